import Foundation

/// How `facenet serve` listens, batches and protects itself (Docs/serving.md). A value:
/// the command line builds one; nothing here reads the environment.
public struct ServerOptions: Sendable, Equatable {
    /// The address to bind. Default 127.0.0.1: only this machine can connect until the
    /// operator says otherwise.
    public var host: String
    /// The TCP port; 0 picks a free one (tests).
    public var port: Int
    /// The most faces that go through the network in one batch.
    public var maxBatch: Int
    /// How long the first face of a batch may wait for others while more requests are being
    /// decoded and detected. The engine never waits when nothing else is on its way.
    public var maxDelay: Duration
    /// The bearer token every endpoint but `/health` requires; nil: none.
    public var apiKey: String?
    /// The largest request body accepted, in bytes; larger gets 413.
    public var maxBodyBytes: Int
    /// The most requests admitted to the model endpoints at once (being read, decoded,
    /// detected, waiting for or in the network); more get 503 with `Retry-After`.
    public var queueLimit: Int
    /// How long a request may take from its first byte to its answer; past it, 408 while
    /// the body is still arriving, else 503.
    public var requestTimeout: Duration
    /// How long a connection may stay idle before the server closes it.
    public var idleTimeout: Duration

    /// The defaults are `facenet serve`'s: 127.0.0.1:8080, batches of up to 8 faces waiting
    /// at most 5 ms, no API key, 10 MB bodies, 64 requests admitted, 30 s per request, 60 s idle.
    public init(host: String = "127.0.0.1", port: Int = 8080, maxBatch: Int = 8, maxDelay: Duration = .milliseconds(5),
                apiKey: String? = nil, maxBodyBytes: Int = 10 << 20, queueLimit: Int = 64,
                requestTimeout: Duration = .seconds(30), idleTimeout: Duration = .seconds(60)) {
        self.host = host
        self.port = port
        self.maxBatch = maxBatch
        self.maxDelay = maxDelay
        self.apiKey = apiKey
        self.maxBodyBytes = maxBodyBytes
        self.queueLimit = queueLimit
        self.requestTimeout = requestTimeout
        self.idleTimeout = idleTimeout
    }

    /// Throws `ServerSetupError` naming the first value out of range.
    public func validate() throws(ServerSetupError) {
        if maxBatch < 1 { throw ServerSetupError("max batch must be at least 1 (it is \(maxBatch))") }
        if maxDelay < .zero { throw ServerSetupError("max delay must not be negative") }
        if maxBodyBytes < 1 { throw ServerSetupError("the body limit must be at least 1 byte") }
        if queueLimit < 1 { throw ServerSetupError("the queue limit must be at least 1 (it is \(queueLimit))") }
        if requestTimeout <= .zero { throw ServerSetupError("the request timeout must be positive") }
        if !(0...65_535).contains(port) { throw ServerSetupError("port \(port) is outside 0...65535") }
        if let apiKey, apiKey.isEmpty { throw ServerSetupError("the API key is empty") }
    }
}

/// A server that cannot start as configured: a bad option, an API key file that cannot be
/// read, a gallery made with another model.
public struct ServerSetupError: Error, CustomStringConvertible, Sendable {
    /// What is wrong, naming the option or file.
    public let description: String

    /// An error saying `description`.
    public init(_ description: String) { self.description = description }
}

extension ServerOptions {
    /// The API key from a file: its first line, surrounding whitespace removed. Throws
    /// `ServerSetupError` when the file cannot be read or holds no key.
    public static func apiKey(file path: String) throws(ServerSetupError) -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ServerSetupError("\(path): cannot read the API key file")
        }
        let key = text.split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard !key.isEmpty else { throw ServerSetupError("\(path): the API key file is empty") }
        return key
    }
}
