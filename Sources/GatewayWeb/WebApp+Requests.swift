import Foundation
import GatewayCore
import Hummingbird

extension WebApp {
    /// How far back the Access Requests page shows resolved requests.
    static let resolvedWindow: TimeInterval = 90 * 86_400

    /// Runs `body` for a signed-in user, or sends the visitor to the sign-in page.
    func signedIn(_ request: Request, _ body: (Viewer, CSRF) async throws -> Response) async throws -> Response {
        guard let viewer = try await viewer(request) else { return redirect("/login") }
        return try await body(viewer, CSRF(request))
    }

    /// The page for a signed-in user who may not see something: the same whether it exists or not.
    func notFound(viewer: Viewer?, csrf: CSRF) async throws -> Response {
        try await message("Not found", "There is nothing here for you.", viewer: viewer, csrf: csrf, status: .notFound)
    }

    /// Display names by email.
    func names() async throws -> [String: String] {
        Dictionary(try await store.users().map { ($0.email, $0.name) }, uniquingKeysWith: { first, _ in first })
    }

    /// The template values of a list of requests, with a decision form where `viewer` may decide.
    func rows(_ requests: [AccessRequest], viewer: Viewer, csrf: CSRF, returnTo: String) async throws -> [[String: Any]] {
        let names = try await names()
        let resources = Dictionary(try await store.resources().map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        return requests.map { request in
            var row = WebFormat.request(request, names: names, now: now)
            if viewer.mayDecide(request, resource: resources[request.resource], now: now) {
                let path = "/requests/\(request.id)/decision"
                row["may_decide"] = true
                row["decide_path"] = path
                row["decide_csrf"] = csrf.token(for: path, secret: secret)
                row["return_to"] = returnTo
            }
            return row
        }
    }

    /// `GET /requests`: open requests and those resolved in the last 90 days that the viewer may
    /// review, newest first, filtered and paginated. Users who review nothing see their own requests.
    func showRequests(_ request: Request) async throws -> Response {
        try await signedIn(request) { viewer, csrf in
            guard viewer.mayReviewSomething else { return redirect("/my-requests") }
            let query = FormData.query(request)
            let stateChoice = query["state"] ?? "recent"
            var states: Set<RequestState>?
            switch stateChoice {
            case "open": states = [.pending]
            case "recent": states = nil
            default: states = RequestState(rawValue: stateChoice).map { [$0] }
            }
            let page = max(1, query["page"].flatMap(Int.init) ?? 1)
            let filter = RequestFilter(
                states: states, resource: query["resource"], requester: query["requester"],
                resolvedSince: now.addingTimeInterval(-Self.resolvedWindow),
                limit: settings.pageSize + 1, offset: (page - 1) * settings.pageSize
            )
            var found = try await store.requests(reviewableBy: viewer.user.email, filter: filter)
            let hasMore = found.count > settings.pageSize
            found = Array(found.prefix(settings.pageSize))
            func link(page: Int) -> String {
                var parts = ["state=\(stateChoice)"]
                if let resource = query["resource"] { parts.append("resource=\(Self.formEncode(resource))") }
                if let requester = query["requester"] { parts.append("requester=\(Self.formEncode(requester))") }
                parts.append("page=\(page)")
                return "/requests?" + parts.joined(separator: "&")
            }
            let returnTo = link(page: page)
            let resources = try await store.resources().filter { viewer.isAdminRole || viewer.reviewableResources.contains($0.name) }
            var context: [String: Any] = [
                "rows": try await rows(found, viewer: viewer, csrf: csrf, returnTo: returnTo),
                "empty": found.isEmpty,
                "states": ["recent", "open", "approved", "denied", "expired", "cancelled"].map { ["value": $0, "label": $0 == "recent" ? "open and last 90 days" : $0, "selected": $0 == stateChoice] },
                "resources": resources.map { ["name": $0.name, "selected": $0.name == query["resource"]] },
                "requester": query["requester"] ?? "",
                "page": page,
            ]
            // Absent, not empty: an empty string is still "true" to a Mustache section.
            if page > 1 { context["prev_url"] = link(page: page - 1) }
            if hasMore { context["next_url"] = link(page: page + 1) }
            return try await self.page("requests", context, title: "Access Requests", viewer: viewer, csrf: csrf)
        }
    }

    static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~@")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// `GET /requests/:id`: one request, with its decision form for those who may decide.
    func showRequest(_ request: Request, id: Int64) async throws -> Response {
        try await signedIn(request) { viewer, csrf in
            guard let accessRequest = try await store.request(id: id), viewer.maySee(accessRequest) else {
                return try await notFound(viewer: viewer, csrf: csrf)
            }
            let row = try await rows([accessRequest], viewer: viewer, csrf: csrf, returnTo: "/requests/\(id)")[0]
            var context: [String: Any] = ["request": row]
            if accessRequest.requester == viewer.user.email, accessRequest.isOpen(at: now) {
                context["cancel_path"] = "/my-requests/\(id)/cancel"
                context["cancel_csrf"] = csrf.token(for: "/my-requests/\(id)/cancel", secret: secret)
            }
            return try await page("request", context, title: "Access request #\(id)", viewer: viewer, csrf: csrf)
        }
    }

    /// `POST /requests/:id/decision`: approve or deny on the web (channel `web`) with a comment.
    func decideOnWeb(_ request: Request, context: WebContext, id: Int64) async throws -> Response {
        try await signedIn(request) { viewer, csrf in
            let form = try await FormData.read(request)
            let path = "/requests/\(id)/decision"
            guard CSRF.verify(request, form: form, path: path, secret: secret) else { return try await formExpired(csrf: csrf) }
            guard let action = form["action"].flatMap(DecisionAction.init(rawValue:)) else {
                return try await message("Choose Approve or Deny", "Nothing was changed.", viewer: viewer, csrf: csrf, status: .badRequest)
            }
            let outcome = try await store.decide(
                DecisionAttempt(
                    requestID: id, reviewer: viewer.user.email, action: action, channel: .web, comment: form["comment"],
                    evidence: ["client_ip": context.clientAddress, "session": String(viewer.sessionDigest.prefix(16))]
                ),
                now: now
            )
            switch outcome {
            case .decided:
                let target = form["return_to"].flatMap(Self.safeReturnPath) ?? "/requests/\(id)"
                return redirect(target)
            case .refused(let refusal, let current):
                guard let current, viewer.maySee(current) else { return try await notFound(viewer: viewer, csrf: csrf) }
                return try await message(
                    "Nothing was changed", Self.explain(refusal, request: current, names: try await names()),
                    viewer: viewer, csrf: csrf, status: .conflict, links: [("/requests/\(id)", "Open the request")]
                )
            }
        }
    }

    /// A path on this server to return to after a form, or `nil` for anything else.
    static func safeReturnPath(_ path: String) -> String? {
        guard path.hasPrefix("/"), !path.hasPrefix("//"), !path.contains("\\"), path.utf8.count < 1_000,
              !path.contains(where: { $0.isNewline }) else { return nil }
        return path
    }
}
