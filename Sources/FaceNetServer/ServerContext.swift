import Hummingbird

/// The per-request state the server's middleware hands its handlers: Hummingbird's core
/// context plus the request's deadline.
struct ServerContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// When the request must be answered by (`ServerOptions.requestTimeout` after its head
    /// arrived); set by `GuardMiddleware`.
    var deadline: ContinuousClock.Instant = .now + .seconds(30)

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }
}
