"""Model backends: the generation stage of an evaluation, by transformers, vLLM or an OpenAI-compatible server.

Every backend takes dialogues (lists of chat messages, see prompts.py) and gives each one greedy
response, cut at the end of its answer line. torch, transformers and vLLM are imported only by
the backend that runs them, when it is opened, never by importing this module.
"""

from __future__ import annotations

import abc
import hashlib
import importlib.util
import json
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mathcamps.errors import MathcampsError
from mathcamps.evaluation.prompts import DELIMITER, Message, completion_text, response_ended, trim_response, without_system

BACKENDS = ("auto", "hf", "vllm", "openai")
DEFAULT_TIMEOUT = 120.0  # seconds an OpenAI-compatible server may take to answer one request
DEFAULT_RETRIES = 3  # more attempts at a request that got no answer
PROMPT_MODES = ("auto", "chat", "completion")

VLLM_MISSING = (
    "the vllm backend needs the vllm package, which is not installed (or does not import) here. vLLM runs on "
    "NVIDIA GPUs only and is not part of the eval extra: install it yourself beside it "
    "(`pip install vllm`, a version built for your torch and CUDA), or use `--backend hf` (transformers, CPU "
    "or GPU), or serve the model with `vllm serve` elsewhere and use `--backend openai --base-url URL`."
)


class BackendError(MathcampsError):
    """A model that cannot be loaded or reached, or a backend that cannot run here."""


@dataclass(frozen=True)
class Generation:
    """One response: its text up to the end of its answer line, and the tokens it took."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class ModelSource:
    """Which model to run: a local folder or a hub id, a revision, and the hub cache to look in."""

    model: str
    revision: str | None = None
    cache_dir: Path | None = None


class Backend(abc.ABC):
    """What every backend gives: its name, the prompt format it uses, and responses to dialogues."""

    name = "backend"
    # "completion", "chat" (a server applies its own template) or "chat:<sha256 of the template>[:nosystem]"
    prompt_format = "completion"
    batch_size = 8
    on_wait: Callable[[str], None] | None = None  # told what the backend waits for (a server's retry), if anyone listens

    def load(self) -> None:
        """Loads the model now rather than on the first batch (a no-op for a server)."""

    @abc.abstractmethod
    def generate(self, dialogues: list[list[Message]], max_new_tokens: int) -> list[Generation]:
        """One greedy response per dialogue, in order."""

    def close(self) -> None:
        """Frees the model (a no-op where there is nothing to free)."""


def resolve_backend(kind: str) -> str:
    """The backend `auto` stands for here: vllm when it is installed and a GPU is present, else hf."""
    if kind not in BACKENDS:
        raise BackendError(f"unknown backend {kind!r}: choose one of {', '.join(BACKENDS)}.")
    if kind != "auto":
        return kind
    if importlib.util.find_spec("vllm") is None:
        return "hf"
    import torch

    return "vllm" if torch.cuda.is_available() else "hf"


def open_backend(
    kind: str,
    source: ModelSource,
    *,
    prompt_mode: str = "auto",
    batch_size: int | None = None,
    base_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
) -> Backend:
    """The backend of this kind (auto, hf, vllm, openai) for a model, ready to generate (weights load on
    first use); `timeout` and `retries` are the openai backend's (see OpenAIBackend)."""
    if prompt_mode not in PROMPT_MODES:
        raise BackendError(f"unknown prompt format {prompt_mode!r}: choose one of {', '.join(PROMPT_MODES)}.")
    kind = resolve_backend(kind)
    if kind == "openai":
        backend: Backend = OpenAIBackend(source, base_url or "http://127.0.0.1:8000/v1", prompt_mode, timeout, retries)
    elif kind == "vllm":
        backend = VllmBackend(source, prompt_mode)
    else:
        backend = TransformersBackend(source, prompt_mode)
    if batch_size is not None:
        backend.batch_size = batch_size
    return backend


# ---------------------------------------------------------------- finding and loading a local model


def _looks_like_path(model: str) -> bool:
    """Whether a model name can only be a folder (a hub id is `name` or `org/name`)."""
    return model.startswith((".", "/", "~")) or "\\" in model or model.count("/") > 1


def locate(source: ModelSource) -> tuple[str, dict]:
    """Where from_pretrained should load the model from, and the extra arguments it needs.

    A local folder as it is; a hub id from its cached snapshot of the revision when the cache has
    one (no network needed), else the id itself with its revision and cache (a download)."""
    folder = Path(source.model).expanduser()
    if folder.is_dir():
        if source.revision is not None:
            raise BackendError(
                f"--revision {source.revision} selects a revision of a hub model, but {source.model} is a local "
                "folder: leave --revision out, or give the hub id (with --cache-dir if its revisions are cached "
                "in a folder of your own)."
            )
        return str(folder), {}
    if _looks_like_path(source.model):
        raise BackendError(
            f"there is no model folder at {source.model}: give a folder written by save_pretrained "
            "(config.json, weights and tokenizer files) or a hub id such as EleutherAI/pythia-160m."
        )
    from huggingface_hub import constants, snapshot_download

    try:
        cached = snapshot_download(
            source.model, revision=source.revision, cache_dir=source.cache_dir, local_files_only=True
        )
        return cached, {}
    except (OSError, ValueError):  # not cached (or not a valid id): let from_pretrained say which
        pass
    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE"):
        revision = f" at revision {source.revision}" if source.revision else ""
        raise BackendError(
            f"{source.model}{revision} is not in the hub cache {source.cache_dir or constants.HF_HUB_CACHE}, and "
            "HF_HUB_OFFLINE is set, so it cannot be downloaded: check the id and the revision, give the cache "
            "that holds it with --cache-dir, or allow downloads."
        )
    kwargs: dict = {"revision": source.revision}
    if source.cache_dir is not None:
        kwargs["cache_dir"] = str(source.cache_dir)
    return source.model, kwargs


def _load(loader, source: ModelSource, what: str, location: tuple[str, dict] | None = None):
    """`loader.from_pretrained` for the model (found by `locate` unless given), its failures said as a BackendError."""
    where, kwargs = location or locate(source)
    try:
        return loader(where, **kwargs)
    except (OSError, ValueError, KeyError) as error:
        revision = f" at revision {source.revision}" if source.revision else ""
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        cache = f" (looked in the hub cache {source.cache_dir})" if source.cache_dir else ""
        raise BackendError(
            f"cannot load the {what} of {source.model}{revision}{cache}: {first}. Give a local folder written by "
            "save_pretrained, or a hub id whose revision is in the hub cache (--cache-dir, or HF_HOME) or can be "
            "downloaded."
        ) from None


def _quiet_transformers() -> None:
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


class _TokenizedPrompts:
    """Renders dialogues into token ids with a tokenizer: its chat template when it has one, else the completion text."""

    def __init__(self, tokenizer, prompt_mode: str):
        self.tokenizer = tokenizer
        template = getattr(tokenizer, "chat_template", None)
        if prompt_mode == "chat" and not template:
            raise BackendError(
                "--prompt-format chat needs a tokenizer with a chat template, and this model's has none: "
                "use --prompt-format completion (or auto)."
            )
        self.chat = bool(template) and prompt_mode != "completion"
        self.system = True
        if self.chat:
            self.system = self._takes_system()
            digest = hashlib.sha256(str(template).encode()).hexdigest()[:16]
            self.format = f"chat:{digest}" + ("" if self.system else ":nosystem")
        else:
            self.format = "completion"

    def _takes_system(self) -> bool:
        probe = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
        from jinja2 import TemplateError

        try:
            self.tokenizer.apply_chat_template(probe, tokenize=False, add_generation_prompt=True)
            return True
        except (TemplateError, ValueError):  # a template that raises on a system message
            return False

    def ids(self, messages: list[Message]) -> list[int]:
        """The prompt's token ids."""
        if not self.chat:
            return list(self.tokenizer(completion_text(messages))["input_ids"])
        if not self.system:
            messages = without_system(messages)
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])


# ---------------------------------------------------------------- transformers


class TransformersBackend(Backend):
    """Greedy generation with transformers, batched and left-padded, on a GPU when there is one, else the CPU."""

    name = "hf"
    batch_size = 8

    def __init__(self, source: ModelSource, prompt_mode: str = "auto"):
        self.location = locate(source)  # before importing transformers: a wrong model fails fast
        from transformers import AutoTokenizer

        _quiet_transformers()
        self.source = source
        tokenizer = _load(AutoTokenizer.from_pretrained, source, "tokenizer", self.location)
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            if tokenizer.eos_token is None:
                raise BackendError(f"the tokenizer of {source.model} has neither a padding nor an end-of-text token.")
            tokenizer.pad_token = tokenizer.eos_token
        self.tokenizer = tokenizer
        self.prompts = _TokenizedPrompts(tokenizer, prompt_mode)
        self.prompt_format = self.prompts.format
        self._model = None

    def load(self) -> None:
        self._loaded()

    def _loaded(self):
        if self._model is None:
            import torch
            import transformers
            from transformers import AutoModelForCausalLM

            cuda = torch.cuda.is_available()
            dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32
            major, minor = (int(part) for part in transformers.__version__.split(".")[:2])
            dtype_arg = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"

            def loader(where, **kwargs):
                return AutoModelForCausalLM.from_pretrained(where, **{dtype_arg: dtype}, **kwargs)

            model = _load(loader, self.source, "weights", self.location)
            self._model = model.to("cuda" if cuda else "cpu").eval()
        return self._model

    def generate(self, dialogues: list[list[Message]], max_new_tokens: int) -> list[Generation]:
        prompts = [self.prompts.ids(d) for d in dialogues]
        # Similar lengths batch together (less padding); the answers go back in the dialogues' order.
        order = sorted(range(len(prompts)), key=lambda i: (len(prompts[i]), i))
        out: dict[int, Generation] = {}
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            for i, generation in zip(chunk, self._batch([prompts[i] for i in chunk], max_new_tokens)):
                out[i] = generation
        return [out[i] for i in range(len(prompts))]

    def _batch(self, prompts: list[list[int]], max_new_tokens: int) -> list[Generation]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        model = self._loaded()
        tokenizer = self.tokenizer
        batch = tokenizer.pad({"input_ids": prompts}, return_tensors="pt").to(model.device)
        start = batch["input_ids"].shape[1]
        stopped_at: dict[int, int] = {}

        class AnswerLineEnded(StoppingCriteria):
            """Stops a row once its response has a complete answer line or ends its turn."""

            def __call__(self, input_ids, scores, **kwargs):
                tails = input_ids[:, start:]
                # A response can only just have ended if its newest token has a newline or an @ (the
                # delimiter's): decode the whole of those rows only.
                newest = tokenizer.batch_decode(tails[:, -1:], skip_special_tokens=True)
                for row, token in enumerate(newest):
                    if row not in stopped_at and ("\n" in token or "@" in token):
                        if response_ended(tokenizer.decode(tails[row], skip_special_tokens=True)):
                            stopped_at[row] = tails.shape[1]
                done = [row in stopped_at for row in range(tails.shape[0])]
                return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

        with torch.inference_mode():
            output = model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=1,
                pad_token_id=tokenizer.pad_token_id,
                stopping_criteria=StoppingCriteriaList([AnswerLineEnded()]),
            )
        eos = model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        eos_ids.add(tokenizer.eos_token_id)
        generations = []
        for row, prompt in enumerate(prompts):
            tail = output[row, start:].tolist()
            length = len(tail)
            for position, token in enumerate(tail):
                if token in eos_ids:
                    length = position + 1
                    break
            length = min(length, stopped_at.get(row, length))
            text = tokenizer.decode(tail[:length], skip_special_tokens=True)
            generations.append(Generation(trim_response(text), len(prompt), length))
        return generations

    def close(self) -> None:
        self._model = None


# ---------------------------------------------------------------- vLLM


class VllmBackend(Backend):
    """Greedy generation with vLLM's offline engine (one GPU), the prompts tokenized here as for transformers."""

    name = "vllm"
    batch_size = 1024  # vLLM schedules its own batches: hand it many prompts at once

    def __init__(self, source: ModelSource, prompt_mode: str = "auto"):
        if importlib.util.find_spec("vllm") is None:
            raise BackendError(VLLM_MISSING)
        import torch

        if not torch.cuda.is_available():
            raise BackendError(
                "the vllm backend needs an NVIDIA GPU, and torch sees none here: use --backend hf (it runs on "
                "the CPU), or run on a machine with a GPU."
            )
        self.location = locate(source)
        from transformers import AutoTokenizer

        _quiet_transformers()
        self.source = source
        self.tokenizer = _load(AutoTokenizer.from_pretrained, source, "tokenizer", self.location)
        self.prompts = _TokenizedPrompts(self.tokenizer, prompt_mode)
        self.prompt_format = self.prompts.format
        self._llm = None

    def load(self) -> None:
        self._engine()

    def _engine(self):
        if self._llm is None:
            try:
                from vllm import LLM
            except ImportError as error:
                raise BackendError(f"{VLLM_MISSING} (The import said: {error}.)") from None
            where, kwargs = self.location
            cache = kwargs.get("cache_dir")
            self._llm = LLM(
                model=where,
                tokenizer=where,
                revision=kwargs.get("revision"),
                tokenizer_revision=kwargs.get("revision"),
                download_dir=cache,
                seed=0,
                dtype="auto",
            )
        return self._llm

    def generate(self, dialogues: list[list[Message]], max_new_tokens: int) -> list[Generation]:
        from vllm import SamplingParams

        llm = self._engine()
        prompts = [self.prompts.ids(d) for d in dialogues]
        # Greedy; vLLM stops at fixed strings only, so the answer line's end is cut afterwards.
        params = SamplingParams(temperature=0.0, max_tokens=max_new_tokens, stop=[DELIMITER])
        outputs = llm.generate([{"prompt_token_ids": ids} for ids in prompts], params, use_tqdm=False)
        return [
            Generation(trim_response(o.outputs[0].text), len(ids), len(o.outputs[0].token_ids))
            for o, ids in zip(outputs, prompts)
        ]

    def close(self) -> None:
        self._llm = None


# ---------------------------------------------------------------- an OpenAI-compatible server


class OpenAIBackend(Backend):
    """Greedy responses from an OpenAI-compatible server (`vllm serve`, ...): chat completions for a chat
    prompt, completions for the plain-text one; temperature 0, requests of a batch sent concurrently.

    A request that gets no answer within `timeout` seconds (or a busy server's 429 or 5xx) is sent
    again, up to `retries` more times, with a pause that doubles; `on_wait` hears about each wait."""

    name = "openai"
    batch_size = 32

    def __init__(
        self,
        source: ModelSource,
        base_url: str,
        prompt_mode: str = "auto",
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
    ):
        self.model = source.model
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        # A server applies its own chat template; the plain-text format is asked for explicitly.
        self.chat = prompt_mode != "completion"
        self.prompt_format = "chat" if self.chat else "completion"
        self.api_key = os.environ.get("OPENAI_API_KEY")
        self._check_reachable()

    def _check_reachable(self) -> None:
        request = urllib.request.Request(f"{self.base_url}/models", headers=self._headers())
        try:
            with urllib.request.urlopen(request, timeout=min(self.timeout, 30)):
                pass
        except urllib.error.HTTPError:
            pass  # it answers: some servers have no model list, or want a key for it
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise BackendError(
                f"cannot reach the OpenAI-compatible server at {self.base_url} ({reason}): start it (for instance "
                "`vllm serve MODEL`) or give its address with --base-url, such as http://127.0.0.1:8000/v1."
            ) from None

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def _wait(self, attempt: int, why: str) -> None:
        pause = 2**attempt
        if self.on_wait is not None:
            self.on_wait(f"{why}; retry {attempt + 1} of {self.retries} in {pause} s")
        time.sleep(pause)

    def _post(self, path: str, body: dict):
        data = json.dumps(body).encode()
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            request = urllib.request.Request(f"{self.base_url}{path}", data=data, headers=self._headers())
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    raw = response.read()
            except urllib.error.HTTPError as error:
                detail = error.read().decode(errors="replace")[:500]
                if error.code in (429, 500, 502, 503, 504) and not last:
                    self._wait(attempt, f"the server answered HTTP {error.code}")
                    continue
                hint = ""
                if self.chat and error.code == 400 and "template" in detail.lower():
                    hint = " The model seems to have no chat template: use --prompt-format completion."
                raise BackendError(
                    f"the server at {self.base_url} refused {path} for model {self.model}: HTTP {error.code} "
                    f"{detail.strip()}.{hint}"
                ) from None
            except (urllib.error.URLError, OSError) as error:
                reason = getattr(error, "reason", error)
                if not last:
                    self._wait(attempt, f"no answer from the server ({reason})")
                    continue
                raise BackendError(
                    f"no answer from the server at {self.base_url} for {path} after {self.retries + 1} attempts "
                    f"of at most {self.timeout:g} s each: {reason}. Check that it is running, or give it longer "
                    "with --timeout and --retries."
                ) from None
            try:
                return json.loads(raw)
            except ValueError:
                raise BackendError(
                    f"the server at {self.base_url} answered {path} with something that is not JSON: "
                    f"{raw[:200].decode(errors='replace')!r}"
                ) from None
        raise AssertionError("unreachable")

    def _one(self, messages: list[Message], max_new_tokens: int) -> Generation:
        body: dict = {"model": self.model, "temperature": 0, "max_tokens": max_new_tokens}
        if self.chat:
            path = "/chat/completions"
            reply = self._post(path, {**body, "messages": messages})
        else:
            path = "/completions"
            reply = self._post(path, {**body, "prompt": completion_text(messages), "stop": [DELIMITER]})
        try:
            choice = reply["choices"][0]
            text = (choice["message"].get("content") if self.chat else choice.get("text")) or ""
            usage = reply.get("usage") or {}
            if not isinstance(text, str) or not isinstance(usage, dict):
                raise TypeError
        except (KeyError, IndexError, TypeError, AttributeError):
            wanted = "choices[0].message.content" if self.chat else "choices[0].text"
            raise BackendError(
                f"the server at {self.base_url} answered {path} with JSON that is no OpenAI-compatible "
                f"completion (it needs {wanted}): {json.dumps(reply)[:200]}"
            ) from None
        return Generation(trim_response(text), usage.get("prompt_tokens"), usage.get("completion_tokens"))

    def generate(self, dialogues: list[list[Message]], max_new_tokens: int) -> list[Generation]:
        with ThreadPoolExecutor(max_workers=max(1, min(self.batch_size, len(dialogues)))) as pool:
            return list(pool.map(lambda d: self._one(d, max_new_tokens), dialogues))
