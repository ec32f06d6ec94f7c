"""resolve_device: a clear message when CUDA is asked for and absent."""
import pytest
import torch

from neurolatent._utils import DeviceUnavailableError, resolve_device


def test_cpu_and_default():
    assert resolve_device(None) == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")


def test_cuda_on_a_cpu_only_build_says_what_to_install(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", None)
    with pytest.raises(DeviceUnavailableError, match="CPU-only build.*install a CUDA build of torch"):
        resolve_device("cuda")


def test_cuda_build_without_gpu_names_the_driver(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", "12.4")
    with pytest.raises(DeviceUnavailableError, match="finds no usable GPU"):
        resolve_device("cuda:0")


def test_unknown_device_name():
    with pytest.raises(ValueError, match="not a torch device"):
        resolve_device("gpu7")


def test_model_reports_it(monkeypatch):
    from neurolatent import MGPLVM

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", None)
    with pytest.raises(DeviceUnavailableError, match="CUDA is not available"):
        MGPLVM("T1", device="cuda")
