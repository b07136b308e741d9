import Foundation
import GatewayCore
import Hummingbird

/// A JSON API failure: the status, a stable code, a message, and the field at fault for
/// validation errors.
struct APIError: Error, Sendable {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    var field: String?

    static func validation(_ field: String, _ message: String) -> APIError {
        APIError(status: .badRequest, code: "validation_failed", message: message, field: field)
    }

    static let unauthorized = APIError(status: .unauthorized, code: "unauthorized", message: "a valid API key is required: Authorization: Bearer KEY")
    static func notFound(_ message: String) -> APIError { APIError(status: .notFound, code: "not_found", message: message) }

    var response: Response {
        var body: [String: Any] = ["error": code, "message": message]
        if let field { body["field"] = field }
        var response = APIJSON.response(body, status: status)
        if status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer" }
        return response
    }
}

/// JSON bodies in and out, built from plain dictionaries so that every field is explicit.
enum APIJSON {
    static func response(_ object: Any, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    /// Reads a JSON object body.
    static func object(_ request: Request) async throws -> [String: Any] {
        var request = request
        let buffer = try await request.collectBody(upTo: 64 * 1024)
        guard buffer.readableBytes > 0 else { throw APIError.validation("body", "a JSON object body is required") }
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any] else {
            throw APIError.validation("body", "the body is not a JSON object")
        }
        return object
    }

    static func string(_ object: [String: Any], _ field: String, required: Bool) throws -> String? {
        guard let value = object[field], !(value is NSNull) else {
            if required { throw APIError.validation(field, "\(field) is required") }
            return nil
        }
        guard let text = value as? String else { throw APIError.validation(field, "\(field) must be a string") }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if required, trimmed.isEmpty { throw APIError.validation(field, "\(field) must not be empty") }
        return trimmed.isEmpty ? nil : trimmed
    }

    static func stringArray(_ object: [String: Any], _ field: String) throws -> [String] {
        guard let values = object[field] as? [Any], let strings = values as? [String] else {
            throw APIError.validation(field, "\(field) must be an array of strings")
        }
        return strings
    }

    static func date(_ date: Date?) -> Any { date.map { RFC3339.string(from: $0) } ?? NSNull() }

    static func request(_ request: AccessRequest) -> [String: Any] {
        [
            "id": request.id, "kind": request.kind.rawValue, "status": request.state.rawValue,
            "requester": request.requester, "resource": request.resource, "reason": request.reason,
            "duration_seconds": request.durationSeconds.map { $0 as Any } ?? NSNull(),
            "created_at": date(request.createdAt), "expires_at": date(request.expiresAt),
            "decided_at": date(request.decision?.decidedAt), "decided_by": request.decision?.reviewer ?? NSNull(),
            "decision": request.decision?.action.rawValue ?? NSNull(), "channel": request.decision?.channel.rawValue ?? NSNull(),
            "comment": request.decision?.comment ?? NSNull(), "resolved_at": date(request.resolvedAt),
        ]
    }

    static func grant(_ grant: Grant?) -> Any {
        guard let grant else { return NSNull() }
        return ["id": grant.id, "request_id": grant.requestID, "user": grant.user, "resource": grant.resource,
                "starts_at": date(grant.startsAt), "ends_at": date(grant.endsAt)] as [String: Any]
    }

    static func user(_ user: User) -> [String: Any] {
        ["email": user.email, "name": user.name, "role": user.role.rawValue, "active": user.isActive]
    }

    static func group(_ group: Group) -> [String: Any] {
        ["name": group.name, "members": group.members.sorted()]
    }

    static func resource(_ resource: Resource) -> [String: Any] {
        [
            "name": resource.name, "approver_groups": resource.approverGroups, "durations_seconds": resource.allowedDurations,
            "pending_ttl_seconds": resource.pendingTTL, "auto_lock_after_days": resource.autoLockAfterDays.map { $0 as Any } ?? NSNull(),
            "reply_decisions": resource.replyDecisionsEnabled, "link_decisions": resource.linkDecisionsEnabled,
            "link_code_required": resource.linkCodeRequired, "active": resource.isActive,
        ]
    }
}
