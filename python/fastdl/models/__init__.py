"""Model zoo built from ``fastdl.nn`` (torchvision's module names where torchvision has the
model, so its state dicts load)."""
from fastdl.models.autoencoder import (Autoencoder, ConvAutoencoder, add_noise,
                                       kl_sparsity_penalty, l1_activity_penalty, roc_auc_score)
from fastdl.models.bert import BERT, BERTConfig, bert_from_pretrained
from fastdl.models.diffusion import GaussianDiffusion, beta_schedule
from fastdl.models.flows import AffineCoupling, RealNVP
from fastdl.models.gan import DCGANDiscriminator, DCGANGenerator, GANTrainer, gradient_penalty
from fastdl.models.gnn import GAT, GCN, GraphClassifier, GraphSAGE
from fastdl.models.gpt import GPT, GPTConfig
from fastdl.models.lenet import LeNet5
from fastdl.models.llama import (Llama, LlamaConfig, causal_lm_from_pretrained,
                                 llama_from_pretrained)
from fastdl.models.mlp import MLP
from fastdl.models.mobilenet import MobileNetV2, mobilenet_v2
from fastdl.models.pretrained import gpt2_from_pretrained
from fastdl.models.resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50
from fastdl.models.roberta import RoBERTa, distilbert_from_pretrained, roberta_from_pretrained
from fastdl.models.sequence import CharLM, Forecaster, Seq2Seq, SequenceClassifier
from fastdl.models.t5 import T5, T5Config, relative_position_bucket, t5_from_pretrained
from fastdl.models.unet import UNet, sinusoidal_embedding
from fastdl.models.vae import VAE, ConditionalVAE, gaussian_kl_divergence
from fastdl.models.vgg import VGG, vgg11, vgg11_bn
from fastdl.models.vit import ViT, vit_b_16

__all__ = ["BERT", "BERTConfig", "BasicBlock", "Bottleneck", "CharLM", "Forecaster", "GPT",
           "GPTConfig", "LeNet5", "MLP", "MobileNetV2", "ResNet", "Seq2Seq", "SequenceClassifier",
           "VGG", "bert_from_pretrained", "gpt2_from_pretrained", "mobilenet_v2", "resnet18",
           "resnet34", "resnet50", "vgg11", "vgg11_bn"]
# generative models (issue #13): autoencoders, VAE, normalizing flows
__all__ += ["AffineCoupling", "Autoencoder", "ConditionalVAE", "ConvAutoencoder", "RealNVP", "VAE",
            "add_noise", "gaussian_kl_divergence", "kl_sparsity_penalty", "l1_activity_penalty",
            "roc_auc_score"]
# generative models (issue #13): GANs, diffusion
__all__ += ["DCGANDiscriminator", "DCGANGenerator", "GANTrainer", "GaussianDiffusion", "UNet",
            "beta_schedule", "gradient_penalty", "sinusoidal_embedding"]
# Transformer models (issue #12): ViT, T5
__all__ += ["T5", "T5Config", "ViT", "relative_position_bucket", "t5_from_pretrained", "vit_b_16"]
__all__ += ["GAT", "GCN", "GraphClassifier", "GraphSAGE"]  # graph neural networks (models/gnn.py)
# more Hugging Face checkpoints: LLaMA / Mistral / Qwen2, RoBERTa, DistilBERT
__all__ += ["Llama", "LlamaConfig", "causal_lm_from_pretrained", "llama_from_pretrained"]
__all__ += ["RoBERTa", "distilbert_from_pretrained", "roberta_from_pretrained"]
