import Foundation
import GatewayAPI
import GatewayApp
import GatewayCore
import Hummingbird

/// A JSON API failure: the status and the body.
struct APIError: Error, Sendable {
    var status: HTTPResponse.Status
    var body: ErrorJSON

    static func validation(_ field: String, _ message: String) -> APIError {
        APIError(status: .badRequest, body: ErrorJSON(error: "validation_failed", message: message, field: field))
    }

    static let unauthorized = APIError(
        status: .unauthorized,
        body: ErrorJSON(error: "unauthorized", message: "a valid, unrevoked and unexpired API key is required: Authorization: Bearer KEY")
    )
    static func notFound(_ message: String) -> APIError { APIError(status: .notFound, body: ErrorJSON(error: "not_found", message: message)) }
    static func forbidden(_ denied: AccessDenied) -> APIError {
        APIError(status: .forbidden, body: ErrorJSON(error: "forbidden", message: denied.message, field: denied.field))
    }
}

/// The JSON API under `/api/v1`. Every call proves its caller with a bearer key: a personal key
/// acts only as its user, an integration key within its scopes (see ``APIScope``); the approval
/// service judges both. Bodies are Codable types shared with the command line.
struct APIController: Sendable {
    let web: WebApp

    func addRoutes(to router: Router<WebContext>) {
        let api = router.group("api/v1")
        api.get("openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: web.pages.openAPI)))
        }
        api.post("requests") { request, context in
            try await call(request, context, status: .created) { key in
                let body = try await decode(OpenRequestBody.self, request, context)
                let draft = RequestDraft(requester: body.requester, resource: body.resource, reason: body.reason, durationSeconds: body.duration?.seconds, kind: body.kind)
                return RequestJSON(try await web.service.openRequest(draft, by: .apiKey(key)))
            }
        }
        api.get("requests") { request, context in
            try await call(request, context) { key in
                RequestListJSON(try await web.service.requests(try Self.filter(FormData.query(request)), by: .apiKey(key)))
            }
        }
        api.get("requests/:id") { request, context in
            try await call(request, context) { key in
                let id = try Self.requestID(context)
                guard let found = try await web.service.request(id: id, by: .apiKey(key)) else { throw APIError.notFound("there is no request \(id)") }
                return RequestJSON(found)
            }
        }
        api.post("requests/:id/decision") { request, context in
            try await call(request, context) { key in
                let id = try Self.requestID(context)
                let body = try await decode(DecisionBody.self, request, context)
                let outcome = try await web.service.decide(DecisionCommand(
                    requestID: id, action: body.action, comment: body.comment, proof: .apiKey(key, namedReviewer: body.reviewer),
                    evidence: ["client_ip": context.clientAddress], grantSeconds: body.duration?.seconds
                ))
                if case .refused(let refusal, _) = outcome { throw Self.error(for: refusal) }
                guard let body = DecisionJSON(outcome) else { throw ServiceInvariantError("a decision that counted has no body") }
                return body
            }
        }
        api.post("grants/:id/revoke") { request, context in
            try await call(request, context) { key in
                let id = try Self.requestID(context)
                let body = try await decode(RevokeGrantBody.self, request, context, emptyAllowed: true)
                switch try await web.service.revokeGrant(id: id, reason: body?.reason, by: .apiKey(key)) {
                case .revoked(let grant):
                    return GrantJSON(grant)
                case .alreadyEnded(let grant):
                    throw APIError(status: .conflict, body: ErrorJSON(error: "grant_ended", message: "grant \(grant.id) already ended at \(RFC3339.string(from: grant.endsAt))"))
                }
            }
        }
        api.post("requests/:id/cancel") { request, context in
            try await call(request, context) { key in
                let id = try Self.requestID(context)
                let body = try await decode(CancelBody.self, request, context, emptyAllowed: true)
                do {
                    return RequestJSON(try await web.service.cancelRequest(id: id, namedRequester: body?.requester, by: .apiKey(key)))
                } catch let error as RequestError where error.code == .notRequester {
                    throw APIError(status: .forbidden, body: ErrorJSON(error: error.code.rawValue, message: error.detail))
                }
            }
        }
        api.get("access") { request, context in
            try await call(request, context) { key in
                let query = FormData.query(request)
                guard let user = query["user"] else { throw APIError.validation("user", "user is required") }
                guard let resource = query["resource"] else { throw APIError.validation("resource", "resource is required") }
                return AccessJSON(try await web.service.accessStatus(user: user, resource: resource, by: .apiKey(key)))
            }
        }
        api.post("usage") { request, context in
            try await call(request, context) { key in
                let body = try await decode(UsageBody.self, request, context)
                try await web.service.recordUsage(user: body.user, resource: body.resource, by: .apiKey(key))
                return UsageJSON(user: EmailAddress.normalize(body.user), resource: body.resource, recordedAt: web.now)
            }
        }
        api.get("users") { request, context in
            try await call(request, context) { _ in UserListJSON(try await web.service.directory().users) }
        }
        api.get("groups") { request, context in
            try await call(request, context) { _ in GroupListJSON(try await web.service.directory().groups) }
        }
        api.get("resources") { request, context in
            try await call(request, context) { _ in ResourceListJSON(try await web.service.directory().resources) }
        }
        api.put("resources/:name/approver-groups") { request, context in
            try await call(request, context) { key in
                let name = try context.parameters.require("name")
                let body = try await decode(ApproverGroupsBody.self, request, context)
                return ResourceJSON(try await web.service.setApproverGroups(body.groups, resource: name, by: .apiKey(key)))
            }
        }
        api.put("groups/:name/members") { request, context in
            try await call(request, context) { key in
                let name = try context.parameters.require("name")
                let body = try await decode(GroupMembersBody.self, request, context)
                return GroupJSON(try await web.service.setGroupMembers(body.members, group: name, create: true, by: .apiKey(key)))
            }
        }
    }

    // MARK: Translation

    /// Authenticates the bearer key, runs `body`, and turns its result or error into JSON.
    func call<Output: Encodable>(
        _ request: Request, _ context: WebContext, status: HTTPResponse.Status = .ok, _ body: (APIKey) async throws -> Output
    ) async throws -> Response {
        do {
            guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer "),
                  let key = try await web.service.authenticateAPIKey(header.dropFirst(7).trimmingCharacters(in: .whitespaces)) else {
                throw APIError.unauthorized
            }
            return try Self.json(try await body(key), status: status)
        } catch let error as APIError {
            return try Self.json(error.body, status: error.status, unauthorized: error.status == .unauthorized)
        } catch let denied as AccessDenied {
            return try Self.json(APIError.forbidden(denied).body, status: .forbidden)
        } catch let error as RequestError {
            let failure = Self.error(for: error)
            return try Self.json(failure.body, status: failure.status)
        } catch let error as DirectoryEditError {
            let failure: APIError = switch error.code {
            case .unknownResource: .notFound(error.detail)
            case .unknownGroup: .validation("groups", error.detail)
            case .unknownUser: .validation("members", error.detail)
            case .notAllowed: .forbidden(AccessDenied(error.detail))
            case .quorumUnreachable: APIError(status: .conflict, body: ErrorJSON(error: error.code.rawValue, message: error.detail))
            }
            return try Self.json(failure.body, status: failure.status)
        }
    }

    /// Decodes a JSON body of type `T`; a wrong or missing field is a validation error naming it.
    func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: WebContext) async throws -> T {
        guard let value = try await decode(type, request, context, emptyAllowed: false) else {
            throw APIError.validation("body", "a JSON object body is required")
        }
        return value
    }

    func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: WebContext, emptyAllowed: Bool) async throws -> T? {
        var request = request
        let buffer = try await request.collectBody(upTo: 64 * 1024)
        guard buffer.readableBytes > 0 else {
            if emptyAllowed { return nil }
            throw APIError.validation("body", "a JSON object body is required")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer: buffer))
        } catch let DecodingError.keyNotFound(key, _) {
            throw APIError.validation(key.stringValue, "\(key.stringValue) is required")
        } catch let DecodingError.typeMismatch(_, context) {
            let field = context.codingPath.first?.stringValue ?? "body"
            throw APIError.validation(field, field == "body" ? "the body is not a JSON object" : "\(field) has the wrong type")
        } catch let DecodingError.valueNotFound(_, context) {
            let field = context.codingPath.first?.stringValue ?? "body"
            throw APIError.validation(field, "\(field) is required")
        } catch let DecodingError.dataCorrupted(context) {
            guard let field = context.codingPath.first?.stringValue else { throw APIError.validation("body", "the body is not valid JSON") }
            throw APIError.validation(field, field == "action" ? "action must be approve or deny" : (field == "kind" ? "kind must be jit or unlock" : context.debugDescription))
        }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status, unauthorized: Bool = false) throws -> Response {
        var response = Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: try JSONEncoder.gatewayAPI.encode(value)))
        )
        if unauthorized { response.headers[.wwwAuthenticate] = "Bearer" }
        return response
    }

    /// The `:id` path parameter (of a request or a grant).
    static func requestID(_ context: WebContext) throws -> Int64 {
        guard let id = context.parameters.get("id", as: Int64.self) else { throw APIError.validation("id", "id must be a number") }
        return id
    }

    /// The API form of a refused decision: `403` for rights, `409` for the request's state.
    static func error(for refusal: DecisionRefusal) -> APIError {
        if refusal.code == .unknownRequest { return .notFound(refusal.detail) }
        if refusal.code == .durationNotAllowed { return .validation("duration", refusal.detail) }
        if refusal.code == .forbidden {
            let field = refusal.detail.hasPrefix("reviewer:") ? "reviewer" : nil
            return APIError(status: .forbidden, body: ErrorJSON(error: "forbidden", message: refusal.detail, field: field, reason: refusal.code.rawValue))
        }
        let status: HTTPResponse.Status = [.notPending, .pastDeadline, .tokenUsed, .alreadyApproved].contains(refusal.code) ? .conflict : .forbidden
        return APIError(status: status, body: ErrorJSON(error: "decision_refused", message: refusal.detail, reason: refusal.code.rawValue))
    }

    /// The API form of a request rule's refusal: validation errors name their field.
    static func error(for error: RequestError) -> APIError {
        switch error.code {
        case .unknownRequester: .validation("requester", error.detail)
        case .unknownResource: .validation("resource", error.detail)
        case .missingReason, .reasonTooLong: .validation("reason", error.detail)
        case .durationNotAllowed, .durationNotApplicable: .validation("duration", error.detail)
        case .unknownRequest, .unknownGrant: .notFound(error.detail)
        default: APIError(status: .conflict, body: ErrorJSON(error: error.code.rawValue, message: error.detail))
        }
    }

    /// `status`, `resource`, `requester`, `limit`, `offset` of `GET /requests`.
    static func filter(_ query: FormData) throws -> RequestFilter {
        var states: Set<RequestState>?
        switch query["status"] {
        case nil, "all": states = nil
        case "pending": states = [.pending]
        case "resolved": states = [.approved, .denied, .expired, .cancelled]
        case let value?:
            guard let state = RequestState(rawValue: value) else {
                throw APIError.validation("status", "status must be pending, resolved, all, approved, denied, expired or cancelled")
            }
            states = [state]
        }
        let limit = try query["limit"].map { text -> Int in
            guard let value = Int(text), (1...500).contains(value) else { throw APIError.validation("limit", "limit must be 1 to 500") }
            return value
        } ?? 100
        let offset = try query["offset"].map { text -> Int in
            guard let value = Int(text), value >= 0 else { throw APIError.validation("offset", "offset must be 0 or more") }
            return value
        } ?? 0
        return RequestFilter(states: states, resource: query["resource"], requester: query["requester"], limit: limit, offset: offset)
    }
}
