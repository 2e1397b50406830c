"""TF Serving protos the server answers with (shared by gRPC, and by REST as their JSON)."""

from __future__ import annotations

from google.protobuf import json_format
from tensorflow.core.protobuf import error_codes_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, model_pb2

from mtlflow.serving.model_manager import VersionStatus
from mtlflow.serving.servable import Servable


def model_spec(name: str, version: int | None = None, signature_name: str = "") -> model_pb2.ModelSpec:
    spec = model_pb2.ModelSpec(name=name, signature_name=signature_name)
    if version is not None:
        spec.version.value = version
    return spec


def status_response(statuses: list[VersionStatus]) -> get_model_status_pb2.GetModelStatusResponse:
    response = get_model_status_pb2.GetModelStatusResponse()
    for status in statuses:
        entry = response.model_version_status.add()
        entry.version = status.version
        entry.state = get_model_status_pb2.ModelVersionStatus.State.Value(status.state)
        entry.status.error_code = error_codes_pb2.Code.Value(status.error_code)
        entry.status.error_message = status.error_message
    return response


def metadata_response(servable: Servable) -> get_model_metadata_pb2.GetModelMetadataResponse:
    """``metadata["signature_def"]``: the version's SignatureDefMap, as TF Serving returns it."""
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.CopyFrom(model_spec(servable.name, servable.version))
    signatures = get_model_metadata_pb2.SignatureDefMap()
    for key, signature_def in servable.signature_defs.items():
        signatures.signature_def[key].CopyFrom(signature_def)
    response.metadata["signature_def"].Pack(signatures)
    return response


def to_dict(message) -> dict:
    """The proto's JSON mapping (field names as in the .proto, defaults included)."""
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True,
                                     preserving_proto_field_name=True)


def metadata_json(servable: Servable) -> dict:
    """The REST form of :func:`metadata_response` (the map inline, as TF Serving writes it)."""
    response = metadata_response(servable)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signatures)
    return {"model_spec": to_dict(response.model_spec), "metadata": {"signature_def": to_dict(signatures)}}
