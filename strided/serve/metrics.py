"""The service's Prometheus metrics (prometheus-client), one registry per app.

Batch sizes follow Triton's convention: average batch = inferences / executions.
"""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServiceMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("strided_requests_total", "HTTP requests by endpoint and status code",
                                ["endpoint", "status"], registry=r)
        self.latency = Histogram("strided_request_latency_seconds", "HTTP request latency", ["endpoint"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.queue_time = Histogram("strided_queue_time_seconds", "Time an input waited for its batch",
                                    buckets=LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("strided_batch_size", "Inputs per model execution", buckets=BATCH_BUCKETS,
                                    registry=r)
        self.inferences = Counter("strided_inferences_total", "Inputs run through the model", registry=r)
        self.executions = Counter("strided_executions_total", "Model executions (batches)", registry=r)
        self.model_load = Gauge("strided_model_load_seconds", "Seconds taken to load the model", registry=r)
        self.errors = Counter("strided_errors_total", "Errors by kind", ["kind"], registry=r)

    def record_batch(self, size: int, waits: list) -> None:
        self.inferences.inc(size)
        self.executions.inc()
        self.batch_size.observe(size)
        for wait in waits:
            self.queue_time.observe(wait)

    def render(self) -> bytes:
        return generate_latest(self.registry)
