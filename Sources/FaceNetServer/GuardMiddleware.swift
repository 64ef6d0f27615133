import Crypto
import FaceNetKit
import Foundation
import Hummingbird
import Logging

/// In front of every route: sets the request's deadline, checks the API key (every
/// endpoint but `/health`), admits at most `queueLimit` requests to the model endpoints at
/// once (503 with `Retry-After` beyond), turns every error into its JSON answer
/// (`APIError.from`) and records the request in the metrics.
struct GuardMiddleware: RouterMiddleware {
    typealias Context = ServerContext

    let options: ServerOptions
    let metrics: ServerMetrics
    let admitted: AdmissionCounter
    /// SHA-256 of the API key: compared with the presented key's digest in constant time.
    let keyDigest: [UInt8]?

    /// Each route's path split at `/` (`{name}` matches one segment), with its methods: a
    /// known path asked with another method is 405 with `Allow` (RFC 9110), not the router's 404.
    let knownPaths: [(segments: [Substring], methods: [HTTPRequest.Method])]

    init(options: ServerOptions, metrics: ServerMetrics, routes: [(path: String, method: HTTPRequest.Method)]) {
        self.options = options
        self.metrics = metrics
        var known: [(segments: [Substring], methods: [HTTPRequest.Method])] = []
        for (path, method) in routes {
            let segments = path.split(separator: "/")
            if let i = known.firstIndex(where: { $0.segments == segments }) {
                known[i].methods.append(method)
            } else {
                known.append((segments, [method]))
            }
        }
        self.knownPaths = known
        self.admitted = AdmissionCounter(limit: options.queueLimit)
        self.keyDigest = options.apiKey.map { Array(SHA256.hash(data: Data($0.utf8))) }
    }

    func handle(_ request: Request, context: ServerContext,
                next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var context = context
        context.deadline = started + options.requestTimeout
        let response: Response
        do {
            response = try await guarded(request, context: context, next: next)
        } catch {
            var failure = APIError.from(error)
            if failure.code == "not_found", let allowed = methods(forPath: request.uri.path) {
                failure = .methodNotAllowed(allowed)
            }
            if failure.status == .internalServerError {
                context.logger.error("\(request.method) \(request.uri.path) failed: \(String(reflecting: error))")
            }
            response = jsonResponse(failure.json, status: failure.status, headers: failure.headers)
        }
        metrics.record(route: context.endpointPath ?? "unmatched", status: response.status.code, duration: .now - started)
        return response
    }

    /// The methods a known path takes, or nil for a path the server does not have.
    private func methods(forPath path: String) -> [HTTPRequest.Method]? {
        let segments = path.split(separator: "/")
        return knownPaths.first { known in
            known.segments.count == segments.count
                && zip(known.segments, segments).allSatisfy { $0.hasPrefix("{") && $0.hasSuffix("}") || $0 == $1 }
        }?.methods
    }

    private func guarded(_ request: Request, context: ServerContext,
                         next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if path != "/health" { try authenticate(request) }
        guard request.method == .post || request.method == .delete else { return try await next(request, context) }
        guard admitted.enter() else {
            metrics.rejectedFull.increment()
            throw APIError.overloaded
        }
        metrics.inFlight.increment()
        defer {
            admitted.leave()
            metrics.inFlight.decrement()
        }
        return try await next(request, context)
    }

    /// Throws `APIError.unauthorized` without a bearer token, `APIError.wrongKey` with
    /// another key; nothing when the server has no key.
    private func authenticate(_ request: Request) throws(APIError) {
        guard let keyDigest else { return }
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            throw APIError.unauthorized
        }
        let presented = String(header.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces)
        let digest = Array(SHA256.hash(data: Data(presented.utf8)))
        // Constant time: every byte is compared, whatever the first difference.
        var difference: UInt8 = 0
        for (a, b) in zip(digest, keyDigest) { difference |= a ^ b }
        guard difference == 0 else { throw APIError.wrongKey }
    }
}

/// How many requests are admitted; at most `limit`.
final class AdmissionCounter: Sendable {
    private let count = LockedValue(0)
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Admits one more request unless `limit` are in; false: refused.
    func enter() -> Bool {
        count.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    /// A request admitted by `enter()` has been answered.
    func leave() { count.withLock { $0 -= 1 } }
}
