import Foundation
import GatewayCore
import Hummingbird

extension WebApp {
    /// Runs an API handler for a valid bearer key, turning ``APIError`` and the domain's errors into JSON.
    func api(_ request: Request, _ body: (APIKeyRecord) async throws -> Response) async throws -> Response {
        do {
            guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else { throw APIError.unauthorized }
            let key = header.dropFirst(7).trimmingCharacters(in: .whitespaces)
            guard key.utf8.count >= 20, key.utf8.count <= 200,
                  let record = try await store.apiKey(digest: APIKeys.digest(of: key), now: now) else { throw APIError.unauthorized }
            return try await body(record)
        } catch let error as APIError {
            return error.response
        } catch let error as RequestError {
            return Self.apiError(error).response
        } catch let error as DirectoryEditError {
            let field = switch error.code {
            case .unknownGroup: "groups"
            case .unknownUser: "members"
            case .unknownResource: "resource"
            case .notAllowed: "actor"
            }
            return (error.code == .unknownResource ? APIError.notFound(error.detail) : APIError.validation(field, error.detail)).response
        }
    }

    /// The API form of a request rule's refusal: validation errors name their field.
    static func apiError(_ error: RequestError) -> APIError {
        switch error.code {
        case .unknownRequester: .validation("requester", error.detail)
        case .unknownResource: .validation("resource", error.detail)
        case .missingReason, .reasonTooLong: .validation("reason", error.detail)
        case .durationNotAllowed, .durationNotApplicable: .validation("duration", error.detail)
        case .unknownRequest: .notFound(error.detail)
        default: APIError(status: .conflict, code: error.code.rawValue, message: error.detail)
        }
    }

    /// The person an API call acts as: the named one, else the key's actor.
    static func actor(_ object: [String: Any], field: String, key: APIKeyRecord) throws -> String {
        if let named = try APIJSON.string(object, field, required: false) {
            guard EmailAddress.isPlausible(EmailAddress.normalize(named)) else { throw APIError.validation(field, "\(field) must be an email address") }
            return EmailAddress.normalize(named)
        }
        guard let actor = key.actor else { throw APIError.validation(field, "\(field) is required (this API key acts as nobody)") }
        return actor
    }

    func addAPIRoutes(to router: Router<WebContext>) {
        let api = router.group("api/v1")
        api.get("openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: pages.openAPI)))
        }
        api.post("requests") { request, _ in
            try await self.api(request) { key in
                let body = try await APIJSON.object(request)
                let requester = try Self.actor(body, field: "requester", key: key)
                let resource = try APIJSON.string(body, "resource", required: true)!
                let reason = try APIJSON.string(body, "reason", required: true)!
                var duration: Int?
                switch body["duration"] {
                case nil, is NSNull: duration = nil
                case let text as String:
                    guard let seconds = DurationText.seconds(from: text) else { throw APIError.validation("duration", "duration must be like 4h, 30m or 1d") }
                    duration = seconds
                case let number as NSNumber where number.intValue > 0 && Double(number.intValue) == number.doubleValue:
                    duration = number.intValue
                default: throw APIError.validation("duration", "duration must be a string like 4h or a number of seconds")
                }
                var kind: RequestKind?
                if let text = try APIJSON.string(body, "kind", required: false) {
                    guard let parsed = RequestKind(rawValue: text) else { throw APIError.validation("kind", "kind must be jit or unlock") }
                    kind = parsed
                }
                let created = try await store.createRequest(
                    NewAccessRequest(requester: requester, resource: resource, reason: reason, durationSeconds: duration, kind: kind), now: now
                )
                return APIJSON.response(APIJSON.request(created), status: .created)
            }
        }
        api.get("requests") { request, _ in
            try await self.api(request) { _ in
                let query = FormData.query(request)
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
                let found = try await store.requests(RequestFilter(states: states, resource: query["resource"], requester: query["requester"], limit: limit, offset: offset))
                return APIJSON.response(["requests": found.map(APIJSON.request)])
            }
        }
        api.get("requests/:id") { request, context in
            try await self.api(request) { _ in
                guard let id = context.parameters.get("id", as: Int64.self) else { throw APIError.validation("id", "id must be a number") }
                guard let found = try await store.request(id: id) else { throw APIError.notFound("there is no request \(id)") }
                return APIJSON.response(APIJSON.request(found))
            }
        }
        api.post("requests/:id/decision") { request, context in
            try await self.api(request) { key in
                guard let id = context.parameters.get("id", as: Int64.self) else { throw APIError.validation("id", "id must be a number") }
                let body = try await APIJSON.object(request)
                let reviewer = try Self.actor(body, field: "reviewer", key: key)
                guard let action = try APIJSON.string(body, "action", required: true).flatMap(DecisionAction.init(rawValue:)) else {
                    throw APIError.validation("action", "action must be approve or deny")
                }
                let outcome = try await store.decide(
                    DecisionAttempt(
                        requestID: id, reviewer: reviewer, action: action, channel: .api, comment: try APIJSON.string(body, "comment", required: false),
                        evidence: ["api_key": key.name, "api_key_id": String(key.id)]
                    ),
                    now: now
                )
                switch outcome {
                case .decided(let decided, let grant, let right):
                    return APIJSON.response(["request": APIJSON.request(decided), "grant": APIJSON.grant(grant), "right": right.description])
                case .refused(let refusal, _):
                    if refusal.code == .unknownRequest { throw APIError.notFound(refusal.detail) }
                    let status: HTTPResponse.Status = [.notPending, .pastDeadline, .tokenUsed].contains(refusal.code) ? .conflict : .forbidden
                    return APIJSON.response(["error": "decision_refused", "reason": refusal.code.rawValue, "message": refusal.detail], status: status)
                }
            }
        }
        api.post("requests/:id/cancel") { request, context in
            try await self.api(request) { key in
                guard let id = context.parameters.get("id", as: Int64.self) else { throw APIError.validation("id", "id must be a number") }
                let body = try await APIJSON.object(request)
                let requester = try Self.actor(body, field: "requester", key: key)
                do {
                    return APIJSON.response(APIJSON.request(try await store.cancelRequest(id: id, requester: requester, now: now)))
                } catch let error as RequestError where error.code == .notRequester {
                    return APIJSON.response(["error": error.code.rawValue, "message": error.detail], status: .forbidden)
                }
            }
        }
        api.get("access") { request, _ in
            try await self.api(request) { _ in
                let query = FormData.query(request)
                guard let user = query["user"] else { throw APIError.validation("user", "user is required") }
                guard let resource = query["resource"] else { throw APIError.validation("resource", "resource is required") }
                let status = try await store.accessStatus(user: user, resource: resource, at: now)
                return APIJSON.response([
                    "user": status.user, "resource": status.resource, "allowed": status.isAllowed,
                    "until": status.isAllowed ? APIJSON.date(status.grant?.endsAt) : NSNull(),
                    "request_id": status.isAllowed ? (status.grant?.requestID).map { $0 as Any } ?? NSNull() : NSNull(),
                    "locked": status.lock.map { !$0.isLifted } ?? false,
                ])
            }
        }
        api.post("usage") { request, _ in
            try await self.api(request) { _ in
                let body = try await APIJSON.object(request)
                let user = try APIJSON.string(body, "user", required: true)!
                let resource = try APIJSON.string(body, "resource", required: true)!
                try await store.recordUsage(user: user, resource: resource, now: now)
                return APIJSON.response(["user": EmailAddress.normalize(user), "resource": resource, "recorded_at": APIJSON.date(now)])
            }
        }
        api.get("users") { request, _ in
            try await self.api(request) { _ in APIJSON.response(["users": try await store.users().map(APIJSON.user)]) }
        }
        api.get("groups") { request, _ in
            try await self.api(request) { _ in APIJSON.response(["groups": try await store.groups().map(APIJSON.group)]) }
        }
        api.get("resources") { request, _ in
            try await self.api(request) { _ in APIJSON.response(["resources": try await store.resources().map(APIJSON.resource)]) }
        }
        api.put("resources/:name/approver-groups") { request, context in
            try await self.api(request) { key in
                let name = try context.parameters.require("name")
                let body = try await APIJSON.object(request)
                let groups = try APIJSON.stringArray(body, "groups")
                let resource = try await store.setApproverGroups(groups, resource: name, actor: key.actor ?? "api-key:\(key.name)", channel: .api, now: now)
                return APIJSON.response(APIJSON.resource(resource))
            }
        }
        api.put("groups/:name/members") { request, context in
            try await self.api(request) { key in
                let name = try context.parameters.require("name")
                let body = try await APIJSON.object(request)
                let members = try APIJSON.stringArray(body, "members")
                let group = try await store.setGroupMembers(members, group: name, create: true, actor: key.actor ?? "api-key:\(key.name)", channel: .api, now: now)
                return APIJSON.response(APIJSON.group(group))
            }
        }
    }
}
