"""`fastdl bench resnet18`: the ResNet training-step benchmark (fastdl.bench.resnet) for
ResNet-18, the name the issue asks for; `fastdl bench resnet --model resnet50` runs the others."""
from fastdl.bench.resnet import main as _main


def main(argv=None):
    return _main(argv, default_model="resnet18")


if __name__ == "__main__":
    main()
