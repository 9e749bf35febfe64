"""`parse_spec`: the raw `spec` mapping -> frozen dataclasses, or `SpecError` listing every
problem as `spec.path: what is wrong`.

It re-checks what the CRD schema says (an API server without the schema, or an old CRD, lets
anything through; both come from `contract.py`) and adds what a schema cannot say: the rules
across fields and sections, which are here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asrfleet_operator.spec import contract as c
from asrfleet_operator.spec.model import model_section
from asrfleet_operator.spec.pods import gpu_section, image_section, resources_section
from asrfleet_operator.spec.reader import Reader
from asrfleet_operator.spec.scaling import autoscaling_section, pdb_section, rollout_section
from asrfleet_operator.spec.server import server_section
from asrfleet_operator.spec.service import monitoring_section, service_section
from asrfleet_operator.spec.types import (
    AutoscalingSpec,
    GpuSpec,
    ModelSpec,
    SpeechRecognizerSpec,
)


def parse_spec(raw: Mapping[str, Any], *, name: str = "x") -> SpeechRecognizerSpec:
    """Parse and validate a SpeechRecognizer spec; raise SpecError with every problem found."""
    r = Reader()
    r.object_name(name, "it names the Service")
    spec = r.mapping(raw, "spec") or {}
    model = model_section(r, spec)
    autoscaling = autoscaling_section(r, spec.get("autoscaling"))
    replicas = r.integer(spec, c.REPLICAS)
    gpu = gpu_section(r, spec.get("gpu"))
    _check_replicas(r, replicas, autoscaling)
    _check_device(r, model, gpu)
    resources = resources_section(r, spec.get("resources"))
    node_selector = r.string_map(spec, "spec.nodeSelector")
    tolerations = r.object_list(spec, "spec.tolerations")
    affinity = r.mapping(spec.get("affinity"), "spec.affinity")
    runtime_class_name = r.string(spec, c.RUNTIME_CLASS_NAME)
    priority_class_name = r.string(spec, c.PRIORITY_CLASS_NAME)
    image = image_section(r, spec.get("image"))
    rollout = rollout_section(r, spec.get("rollout"))
    service = service_section(r, spec.get("service"))
    pdb = pdb_section(r, spec.get("podDisruptionBudget"))
    monitor, interval = monitoring_section(r, spec)
    suspend = r.boolean(spec, c.SUSPEND)
    server = server_section(r, spec.get("server"))
    r.raise_if_problems()
    assert model is not None  # a missing model is a problem: raised above
    return SpeechRecognizerSpec(
        model=model,
        replicas=1 if replicas is None else replicas,
        autoscaling=autoscaling,
        gpu=gpu,
        resources=resources,
        node_selector=node_selector,
        tolerations=tolerations,
        affinity=affinity,
        runtime_class_name=runtime_class_name,
        priority_class_name=priority_class_name,
        image=image,
        rollout=rollout,
        service=service,
        pod_disruption_budget=pdb,
        service_monitor_enabled=monitor,
        service_monitor_interval=interval,
        suspend=suspend,
        server=server,
    )


def _check_replicas(r: Reader, replicas: int | None, autoscaling: AutoscalingSpec | None) -> None:
    if (
        autoscaling
        and replicas is not None
        and not (autoscaling.min_replicas <= replicas <= autoscaling.max_replicas)
    ):
        r.problem(c.REPLICAS.path, "must lie within autoscaling.minReplicas..maxReplicas")


def _check_device(r: Reader, model: ModelSpec | None, gpu: GpuSpec) -> None:
    """The compute type and the GPU product need the device the spec asks for."""
    if model is not None:
        engine, compute_type = model.engine, model.compute_type
        if compute_type not in c.ENGINE_COMPUTE_TYPES[engine]:
            r.problem(c.COMPUTE_TYPE.path, f"{compute_type} is not one the {engine} engine runs")
        elif gpu.count == 0 and compute_type in c.GPU_ONLY_COMPUTE_TYPES:
            r.problem(c.COMPUTE_TYPE.path, f"{compute_type} needs gpu.count >= 1")
        elif gpu.count > 0 and compute_type in c.ENGINE_CPU_ONLY_COMPUTE_TYPES[engine]:
            r.problem(c.COMPUTE_TYPE.path, f"{compute_type} runs on the CPU only with {engine}")
    if gpu.count == 0 and gpu.product:
        r.problem(c.GPU_PRODUCT.path, "needs gpu.count >= 1")
