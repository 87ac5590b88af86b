"""fastdl.models.bert_from_pretrained against transformers' BertModel / BertForSequenceClassification
with random weights (nothing downloaded): last hidden states with padding, and logits."""
import numpy as np
import pytest

import fastdl

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")


def _cfg():
    return transformers.BertConfig(vocab_size=53, hidden_size=32, num_hidden_layers=2,
                                   num_attention_heads=4, intermediate_size=48,
                                   max_position_embeddings=40, num_labels=3)


def test_bert_last_hidden_state_matches(tmp_path):
    from fastdl.models import bert_from_pretrained
    torch.manual_seed(0)
    ref = transformers.BertModel(_cfg()).double().eval()
    ref.save_pretrained(tmp_path)
    model = bert_from_pretrained(str(tmp_path))
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 53, (2, 9))
    mask = np.ones((2, 9), np.int64)
    mask[1, 6:] = 0
    types = rng.integers(0, 2, (2, 9))
    with torch.no_grad():
        want = ref(torch.tensor(ids), attention_mask=torch.tensor(mask),
                   token_type_ids=torch.tensor(types)).last_hidden_state.numpy()
    with fastdl.no_grad():
        got = model(ids, attention_mask=mask, token_type_ids=types).numpy()
    keep = mask.astype(bool)  # padded positions' states are not defined the same way
    np.testing.assert_allclose(got[keep], want[keep], rtol=1e-9, atol=1e-10)


def test_bert_classifier_logits_match(tmp_path):
    from fastdl.models import bert_from_pretrained
    torch.manual_seed(1)
    ref = transformers.BertForSequenceClassification(_cfg()).double().eval()
    ref.save_pretrained(tmp_path)
    model = bert_from_pretrained(str(tmp_path))
    ids = np.random.default_rng(1).integers(0, 53, (3, 7))
    with torch.no_grad():
        want = ref(torch.tensor(ids)).logits.numpy()
    with fastdl.no_grad():
        got = model.classify(ids).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10)
