import Prometheus

/// What `/metrics` reports, in Prometheus's text format (swift-prometheus, one registry
/// per server, so two servers in one process keep apart):
///
/// - `facenet_http_requests_total{route, status}`: answered requests;
/// - `facenet_http_request_duration_seconds{route}`: time from the request's head to its answer;
/// - `facenet_batch_size`: faces per forward pass (`_sum / _count` is the mean batch);
/// - `facenet_inference_duration_seconds`: time per forward pass;
/// - `facenet_queue_depth`: faces waiting for the network;
/// - `facenet_requests_in_flight`: requests admitted to the model endpoints;
/// - `facenet_requests_rejected_total{reason}`: 503s for a full queue.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let batchSize: ValueHistogram
    let inferenceSeconds: DurationHistogram
    let queueDepth: Gauge
    let inFlight: Gauge
    let rejectedFull: Counter

    private static let latencyBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    init(maxBatch: Int) {
        let sizes = Array(Set([1, 2, 4, 8, 16, 32, 64].filter { $0 < maxBatch } + [maxBatch])).sorted().map(Double.init)
        batchSize = registry.makeValueHistogram(
            descriptor: MetricNameDescriptor(metricName: "facenet_batch", unitName: "size", helpText: "Faces per forward pass."),
            buckets: sizes)
        inferenceSeconds = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(metricName: "facenet_inference_duration", unitName: "seconds",
                                             helpText: "Time per forward pass."),
            buckets: Self.latencyBuckets)
        queueDepth = registry.makeGauge(
            descriptor: MetricNameDescriptor(metricName: "facenet_queue", unitName: "depth",
                                             helpText: "Faces waiting for the network."))
        inFlight = registry.makeGauge(
            descriptor: MetricNameDescriptor(metricName: "facenet_requests_in", unitName: "flight",
                                             helpText: "Requests admitted to the model endpoints."))
        rejectedFull = registry.makeCounter(
            descriptor: MetricNameDescriptor(metricName: "facenet_requests_rejected", unitName: "total",
                                             helpText: "Requests answered 503 because the queue was full."),
            labels: [("reason", "queue_full")])
    }

    /// Counts an answered request and its duration under its route (the router's path
    /// pattern, e.g. `/identities/{name}`, so client-chosen paths do not make new series).
    func record(route: String, status: Int, duration: Duration) {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(metricName: "facenet_http_requests", unitName: "total",
                                             helpText: "Answered requests."),
            labels: [("route", route), ("status", String(status))]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(metricName: "facenet_http_request_duration", unitName: "seconds",
                                             helpText: "Time from a request's head to its answer."),
            labels: [("route", route)], buckets: Self.latencyBuckets
        ).record(duration)
    }

    /// The Prometheus text exposition of every metric.
    func text() -> String { registry.emitToString() }
}
