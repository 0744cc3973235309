import CairnProtocol
import Foundation

/// Calls through the method table (``Methods``): typed params in, typed
/// result out, the wire name taken from the definition.
extension CairnClient {
    /// Calls `method` with its typed params and waits for its typed result.
    ///
    /// - Parameter attachment: raw bytes sent after the request line, for
    ///   the methods that take them (`artifacts.upload`, `uploads.append`).
    /// - Throws: ``CairnClientError/server(_:)`` with the contract's error,
    ///   ``CairnClientError/protocolViolation(_:)`` when the result does not
    ///   have the method's shape.
    public func call<P, R>(_ method: RPCMethod<P, R>, _ params: P, attachment: [UInt8]? = nil) async throws -> R {
        let reply = try await call(
            method.name, params.encoded, attachment: attachment, expectAttachment: params.answersWithAttachment)
        return try Self.decode(method, reply)
    }

    /// Decodes the reply to a call of `method`.
    static func decode<P, R>(_ method: RPCMethod<P, R>, _ reply: Reply) throws -> R {
        do {
            return try R(decoding: reply.result, attachment: reply.attachment)
        } catch {
            throw CairnClientError.protocolViolation("\(method.name): \(error)")
        }
    }

    /// The UUID a caller gave as text, or the error the server would give for it.
    static func uuid(_ text: String, _ field: String) throws -> UUID {
        guard text.utf8.count == 36, let id = UUID(uuidString: text) else {
            throw CairnClientError.server(.invalidParams(field, "\(field) must be a UUID"))
        }
        return id
    }
}

extension CairnClient.Request {
    /// A request of `method` with its typed params, for ``CairnClient/pipeline(_:)`` and ``CairnClient/send(_:)``.
    public init<P, R>(_ method: RPCMethod<P, R>, _ params: P, attachment: [UInt8]? = nil) {
        self.init(
            method.name, params.encoded, attachment: attachment, expectAttachment: params.answersWithAttachment)
    }
}
