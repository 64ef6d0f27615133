import Hummingbird

extension Request {
    /// The whole body, refused with 413 (`APIError.bodyTooLarge`) past `limit` bytes (at
    /// once when `Content-Length` says so, else as soon as the bytes read exceed it) and with
    /// 408 (`APIError.slowBody`) if it has not all arrived by `deadline`. Either answer goes
    /// out while the client may still be sending; it carries `Connection: close`.
    func readBody(limit: Int, deadline: ContinuousClock.Instant) async throws -> ByteBuffer {
        if let declared = headers[.contentLength].flatMap({ Int($0) }), declared > limit {
            throw APIError.bodyTooLarge(limit: limit)
        }
        let body = self.body
        return try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask {
                var collected = ByteBuffer()
                for try await var chunk in body {
                    guard collected.readableBytes + chunk.readableBytes <= limit else {
                        throw APIError.bodyTooLarge(limit: limit)
                    }
                    collected.writeBuffer(&chunk)
                }
                return collected
            }
            group.addTask {
                try await Task.sleep(until: deadline, clock: .continuous)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let collected = first else { throw APIError.slowBody }
            return collected
        }
    }
}
