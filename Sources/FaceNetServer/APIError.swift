import FaceNetKit
import Foundation
import HTTPTypes
import Hummingbird

/// What a request gets instead of an answer: an HTTP status and the body
/// `{"error": {"code", "message"}}`. 4xx for the client's mistakes, 5xx for the server's
/// state; the message says what to change and never holds a server path or a stack trace.
struct APIError: Error, HTTPResponseError, Sendable {
    let status: HTTPResponse.Status
    /// Machine-readable, snake_case: `invalid_json`, `invalid_field`, `body_too_large`, …
    let code: String
    let message: String
    /// Extra response headers (`Retry-After`, `WWW-Authenticate`, `Connection: close`).
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    /// `{"error": {"code", "message"}}`.
    var json: JSON { .object([("error", .object([("code", .string(code)), ("message", .string(message))]))]) }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        jsonResponse(json, status: status, headers: headers)
    }

    // MARK: The common ones

    static func invalidField(_ name: String, _ reason: String) -> APIError {
        APIError(.badRequest, "invalid_field", "\(name): \(reason)")
    }

    static func missingField(_ name: String) -> APIError {
        APIError(.badRequest, "missing_field", "\(name) is required")
    }

    static let unauthorized = APIError(.unauthorized, "unauthorized",
                                       "this server needs an API key: send the header `Authorization: Bearer <key>`",
                                       headers: [.wwwAuthenticate: "Bearer"])

    static let wrongKey = APIError(.unauthorized, "unauthorized", "the API key is not valid",
                                   headers: [.wwwAuthenticate: "Bearer"])

    static func bodyTooLarge(limit: Int) -> APIError {
        APIError(.contentTooLarge, "body_too_large",
                 "the request body is larger than this server's limit of \(limit) bytes (--max-body-mb)",
                 headers: [.connection: "close"])
    }

    static let overloaded = APIError(.serviceUnavailable, "overloaded",
                                     "the server has as many requests as its queue holds (--queue-limit); "
                                        + "retry after the time in Retry-After",
                                     headers: [.retryAfter: "1"])

    static let slowBody = APIError(.requestTimeout, "timeout",
                                   "the request body did not arrive within the server's timeout (--timeout-s)",
                                   headers: [.connection: "close"])

    static let timedOut = APIError(.serviceUnavailable, "timeout",
                                   "the request was not answered within the server's timeout (--timeout-s); retry later",
                                   headers: [.retryAfter: "1"])

    static let shuttingDown = APIError(.serviceUnavailable, "shutting_down", "the server is stopping",
                                       headers: [.retryAfter: "1"])

    /// A method the path does not take; `Allow` names those it does.
    static func methodNotAllowed(_ allowed: [HTTPRequest.Method]) -> APIError {
        let names = allowed.map(\.rawValue).joined(separator: ", ")
        return APIError(.methodNotAllowed, "method_not_allowed", "this endpoint takes \(names) only",
                        headers: [.allow: names])
    }

    static let serverFault = APIError(.internalServerError, "internal_error",
                                        "the server failed to answer this request; its log has the details")

    /// The answer for any error a handler throws: an `APIError` as it is, an engine error
    /// about the client's input as a 400 with its message (which names the request field,
    /// never a server file), Hummingbird's own errors (404, 405) with their status, anything
    /// else as a 500 without details.
    static func from(_ error: Error) -> APIError {
        switch error {
        case let error as APIError: return error
        case let error as FaceNetError: return from(error)
        case let error as HTTPError:
            switch error.status {
            case .notFound: return APIError(.notFound, "not_found", "no such endpoint; GET /openapi.yaml lists them")
            case .methodNotAllowed:
                return APIError(.methodNotAllowed, "method_not_allowed", "this endpoint does not take that method")
            case .contentTooLarge: return APIError(.contentTooLarge, "body_too_large", "the request body is too large",
                                                   headers: [.connection: "close"])
            default:
                let status = error.status
                return APIError(status, status.code < 500 ? "bad_request" : "internal_error", status.reasonPhrase)
            }
        case is CancellationError: return timedOut
        default: return serverFault
        }
    }

    private static func from(_ error: FaceNetError) -> APIError {
        let message = String(describing: error)
        switch error {
        case .invalidImage, .imageTooLarge, .noFaceFound, .invalidArgument, .inputTooSmall:
            return APIError(.badRequest, error.code, message)
        case .galleryMismatch:
            return APIError(.conflict, error.code, "the gallery was made with another model or preprocessing")
        case .storeUnavailable:
            return APIError(.serviceUnavailable, error.code, "the gallery's store is unavailable; retry later",
                            headers: [.retryAfter: "5"])
        default:
            return serverFault
        }
    }
}

/// A JSON answer: `value` as compact JSON, `Content-Type: application/json`.
func jsonResponse(_ value: JSON, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
    var fields = headers
    fields[.contentType] = "application/json"
    return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: value.text)))
}
