"""Chat models: the backend interface, embedded llama.cpp, OpenAI-compatible HTTP, and fakes."""

from .base import (
    Backend,
    ChatReply,
    ChatRequest,
    Choice,
    Chooser,
    Message,
    call_record,
    key_seed,
    request_hash,
    stream_reply,
)
from .fake import ChoiceModel, FakeUpstream, FunctionModel, ScriptedModel
from .llama import LlamaBackend, bundled_model_path
from .openai import OpenAIBackend
from .roles import Models, ReplyError, RoleModel, build_backend, parse_reply

__all__ = [
    "Backend",
    "ChatReply",
    "ChatRequest",
    "Choice",
    "ChoiceModel",
    "Chooser",
    "FakeUpstream",
    "FunctionModel",
    "LlamaBackend",
    "Message",
    "Models",
    "OpenAIBackend",
    "ReplyError",
    "RoleModel",
    "ScriptedModel",
    "build_backend",
    "bundled_model_path",
    "call_record",
    "key_seed",
    "parse_reply",
    "request_hash",
    "stream_reply",
]
