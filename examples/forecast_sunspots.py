"""Forecast the yearly sunspot numbers that ship with statsmodels (``pip install fastdl[examples]``
or ``pip install statsmodels``; no download) with fastdl's LSTM + attention-pooling forecaster,
and compare its error on the last 20% of the years with the naive forecast (next year = this
year).

    python examples/forecast_sunspots.py [--window 24] [--epochs 150] [--seed 0]
"""
from __future__ import annotations

import argparse

import numpy as np

import fastdl
from fastdl import nn
from fastdl.models import Forecaster


def load_series():
    import statsmodels.api as sm
    return sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(np.float64)


def run(window=24, epochs=150, hidden=32, lr=5e-3, seed=0, verbose=True):
    fastdl.manual_seed(seed)
    series = load_series()
    split = int(len(series) * 0.8)
    mean, std = series[:split].mean(), series[:split].std()
    z = ((series - mean) / std).astype(np.float32)
    X = np.stack([z[i:i + window] for i in range(len(z) - window)])[:, :, None]
    Y = z[window:, None, None]
    n_train = split - window
    model = Forecaster(1, hidden_size=hidden, horizon=1)
    opt = fastdl.optim.Adam(model.parameters(), lr=lr)
    Xt, Yt = fastdl.tensor(X[:n_train]), fastdl.tensor(Y[:n_train])
    for epoch in range(epochs):
        loss = nn.functional.mse_loss(model(Xt), Yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if verbose and (epoch + 1) % 25 == 0:
            print(f"epoch {epoch + 1:4d}  train mse {float(loss.item()):.4f}")
    model.eval()
    with fastdl.no_grad():
        pred = model(fastdl.tensor(X[n_train:])).numpy()[:, 0, 0] * std + mean
    truth = series[split:]
    naive = series[split - 1:-1]
    mae = float(np.mean(np.abs(pred - truth)))
    naive_mae = float(np.mean(np.abs(naive - truth)))
    if verbose:
        print(f"test years {len(truth)}: LSTM MAE {mae:.2f}, naive MAE {naive_mae:.2f} "
              f"({mae / naive_mae:.2f}x)")
    return {"mae": mae, "naive_mae": naive_mae}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()
    run(a.window, a.epochs, seed=a.seed)


if __name__ == "__main__":
    main()
