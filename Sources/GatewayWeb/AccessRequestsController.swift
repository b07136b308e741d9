import Foundation
import GatewayApp
import GatewayCore
import Hummingbird

extension WebApp {
    /// Runs `body` for a signed-in user, or sends the visitor to the sign-in page.
    func signedIn(_ request: Request, _ context: WebContext, _ body: (Viewer, CSRF) async throws -> Response) async throws -> Response {
        guard let viewer = context.identity else { return redirect(Self.signInPath(returningTo: request)) }
        return try await body(viewer, CSRF(request, context))
    }

    /// The sign-in page, returning to `request`'s page afterwards.
    static func signInPath(returningTo request: Request) -> String {
        var path = request.uri.path
        if let query = request.uri.query, !query.isEmpty { path += "?" + query }
        // `/requests` is where signing in lands anyway.
        guard path != "/", path != "/requests", let back = safeReturnPath(path) else { return "/login" }
        return "/login?next=" + formEncode(back)
    }

    /// The page for a signed-in user who may not see something: the same whether it exists or not.
    func notFound(viewer: Viewer?, csrf: CSRF) async throws -> Response {
        try await message("Not found", "There is nothing here for you.", viewer: viewer, csrf: csrf, status: .notFound)
    }

    /// The request table of a page of `listing`'s requests (``RequestTable``), with a decision
    /// form where `viewer` may decide.
    func requestTable(_ requests: [AccessRequest], of listing: RequestListing, viewer: Viewer, csrf: CSRF, returnTo: String) -> String {
        var rows: [RequestTableRow] = []
        rows.reserveCapacity(requests.count)
        // Requests asking for the same time offer the same shorter grants: worked out once a page.
        var choices: [Int: [RequestTableRow.GrantChoice]] = [:]
        for request in requests {
            rows.append(RequestTableRow(
                request: request, requesterName: listing.name(of: request.requester),
                deciderName: request.decision.map { listing.name(of: $0.reviewer) },
                action: action(
                    on: request, approvedByViewer: listing.approvedByViewer.contains(request.id), viewer: viewer, csrf: csrf, returnTo: returnTo,
                    grantChoices: { request in
                        guard request.kind == .jit, let asked = request.durationSeconds else { return [] }
                        if let known = choices[asked] { return known }
                        let made = Self.grantChoices(for: request)
                        choices[asked] = made
                        return made
                    }
                )
            ))
        }
        return RequestTable.html(rows, now: now)
    }

    /// The template values of one request's page, with a decision form where `viewer` may decide.
    func requestContext(_ request: AccessRequest, approvals: [RecordedApproval], viewer: Viewer, csrf: CSRF, returnTo: String) async throws -> [String: Any] {
        let people = Set([request.requester] + (request.decision.map { [$0.reviewer] } ?? []))
        let names = try await service.names(of: people)
        var row = WebFormat.request(request, names: names, now: now)
        row["may_decide"] = false
        row["you_approved"] = false
        row["has_grant_choices"] = false
        let approved = request.isOpen(at: now) && approvals.contains { $0.reviewer == viewer.user.email }
        switch action(on: request, approvedByViewer: approved, viewer: viewer, csrf: csrf, returnTo: returnTo) {
        case .none, .cancel:
            break
        case .youApproved:
            row["you_approved"] = true
        case .decide(let path, let token, let returnTo, let choices):
            row["may_decide"] = true
            row["decide_path"] = path
            row["decide_csrf"] = token
            row["return_to"] = returnTo
            row["grant_choices"] = choices.map { ["value": $0.value, "label": $0.label] }
            row["has_grant_choices"] = !choices.isEmpty
        }
        return row
    }

    /// What `viewer` may do with `request` from a page: decide it, or (under a quorum, having
    /// approved) wait for another reviewer.
    private func action(
        on request: AccessRequest, approvedByViewer: Bool, viewer: Viewer, csrf: CSRF, returnTo: String,
        grantChoices: (AccessRequest) -> [RequestTableRow.GrantChoice] = Self.grantChoices(for:)
    ) -> RequestTableRow.Action {
        if approvedByViewer, request.isOpen(at: now) { return .youApproved }
        guard viewer.mayDecide(request, resource: viewer.resources[request.resource], now: now) else { return .none }
        let path = "/requests/\(request.id)/decision"
        return .decide(path: path, csrf: csrf.token(for: path, secret: secret), returnTo: returnTo, grantChoices: grantChoices(request))
    }

    /// The shorter grants a reviewer may choose instead of the time asked (a select's options;
    /// empty for an unlock request or one asking for the shortest time already).
    static func grantChoices(for request: AccessRequest) -> [RequestTableRow.GrantChoice] {
        guard request.kind == .jit, let asked = request.durationSeconds else { return [] }
        let shorter = [900, 1_800, 3_600, 7_200, 14_400, 28_800, 86_400, 172_800, 604_800].filter { $0 < asked }
        guard !shorter.isEmpty else { return [] }
        return [RequestTableRow.GrantChoice(value: "", label: "for \(DurationText.spelledOut(seconds: asked)) (as asked)")]
            + shorter.reversed().map { RequestTableRow.GrantChoice(value: DurationText.format(seconds: $0), label: "for \(DurationText.spelledOut(seconds: $0)) only") }
    }

    /// A form's `duration`: `nil` for the time asked; a value that is not a duration grants nothing
    /// (the service refuses it) rather than the time asked.
    static func grantSeconds(_ form: FormData) -> Int? {
        guard let text = form["duration"]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        return DurationText.seconds(from: text) ?? 0
    }

}

/// The Access Requests page, one request's page, and deciding on the web (channel `web`).
struct AccessRequestsController: Sendable {
    let web: WebApp

    /// How far back the Access Requests page's default view goes (open requests always show).
    static let recentWindow: TimeInterval = 90 * 86_400

    /// The state filter's choices: value and label.
    static let stateChoices = [("recent", "open and last 90 days")] + ["open", "approved", "denied", "expired", "cancelled"].map { ($0, $0) }

    func addRoutes(to router: Router<WebContext>) {
        router.get("/") { _, context in
            context.identity == nil ? web.redirect("/login") : web.redirect("/requests")
        }
        router.get("/requests") { request, context in try await showRequests(request, context) }
        router.get("/requests/:id") { request, context in
            try await showRequest(request, context, id: try context.parameters.require("id", as: Int64.self))
        }
        router.post("/requests/:id/decision") { request, context in
            try await decideOnWeb(request, context, id: try context.parameters.require("id", as: Int64.self))
        }
    }

    /// `GET /requests`: open requests and those opened in the last 90 days that the viewer may
    /// review, newest first, filtered, in keyset pages (`before`, `after`, `last`: a deep page costs
    /// what the first does). Users who review nothing see their own requests.
    func showRequests(_ request: Request, _ context: WebContext) async throws -> Response {
        try await web.signedIn(request, context) { viewer, csrf in
            guard viewer.mayReviewSomething else { return web.redirect("/my-requests") }
            let query = FormData.query(request)
            let stateChoice = query["state"] ?? "recent"
            var states: Set<RequestState>?
            switch stateChoice {
            case "open": states = [.pending]
            case "recent": states = nil
            default: states = RequestState(rawValue: stateChoice).map { [$0] }
            }
            let page = KeysetPage(query: query, size: web.settings.pageSize)
            let filter = RequestFilter(
                states: states, resource: query["resource"], requester: query["requester"],
                recentSince: web.now.addingTimeInterval(-Self.recentWindow), limit: page.limit, position: page.position
            )
            func link(_ extra: String?) -> String {
                var parts = ["state=\(stateChoice)"]
                if let resource = query["resource"] { parts.append("resource=\(WebApp.formEncode(resource))") }
                if let requester = query["requester"] { parts.append("requester=\(WebApp.formEncode(requester))") }
                if let extra { parts.append(extra) }
                return "/requests?" + parts.joined(separator: "&")
            }
            let listing = try await web.service.requestListing(.reviewable, for: viewer, filter: filter)
            let (found, links) = page.finish(listing.requests, link: link)
            let returnTo = link(page.parameter)
            var context: [String: Any] = [
                "request_table": web.requestTable(found, of: listing, viewer: viewer, csrf: csrf, returnTo: returnTo),
                "empty": found.isEmpty,
                "state_options": HTMLWriter.options(Self.stateChoices, selected: stateChoice),
                "resource_options": HTMLWriter.options([("", "all")] + viewer.visibleResources.map { ($0.name, $0.name) }, selected: query["resource"] ?? ""),
                "requester": query["requester"] ?? "",
            ]
            context.merge(links) { _, new in new }
            return try await web.page("requests", context, title: "Access Requests", viewer: viewer, csrf: csrf, bell: listing.openRequestCount)
        }
    }

    /// `GET /requests/:id`: one request, with its decision form for those who may decide.
    func showRequest(_ request: Request, _ context: WebContext, id: Int64) async throws -> Response {
        try await web.signedIn(request, context) { viewer, csrf in
            guard let accessRequest = try await web.service.request(id: id, by: .session(viewer)) else {
                return try await web.notFound(viewer: viewer, csrf: csrf)
            }
            let approvals = try await web.service.approvals(of: accessRequest, for: viewer)
            let row = try await web.requestContext(accessRequest, approvals: approvals, viewer: viewer, csrf: csrf, returnTo: "/requests/\(id)")
            var context: [String: Any] = ["request": row]
            if !approvals.isEmpty {
                let names = try await web.service.names(of: Set(approvals.map(\.reviewer)))
                context["has_approvals"] = true
                context["approvals"] = approvals.map { approval -> [String: Any] in
                    var item: [String: Any] = [
                        "reviewer": approval.reviewer, "reviewer_name": names[approval.reviewer] ?? approval.reviewer,
                        "channel": approval.channel.rawValue, "at": WebFormat.date(approval.approvedAt),
                    ]
                    if let reason = approval.voidReason { item["void_reason"] = reason }
                    if let seconds = approval.grantSeconds { item["granted"] = DurationText.spelledOut(seconds: seconds) }
                    if let comment = approval.comment { item["comment"] = comment }
                    return item
                }
            }
            let bounced = try await web.service.bouncedNotifications(requestID: id, for: viewer)
            if !bounced.isEmpty {
                context["has_bounced"] = true
                context["bounced"] = bounced.map { ["recipient": $0.recipient, "kind": $0.kind.rawValue, "reason": $0.lastError ?? "bounced"] }
            }
            if accessRequest.requester == viewer.user.email, accessRequest.isOpen(at: web.now) {
                context["cancel_path"] = "/my-requests/\(id)/cancel"
                context["cancel_csrf"] = csrf.token(for: "/my-requests/\(id)/cancel", secret: web.secret)
            }
            return try await web.page("request", context, title: "Access request #\(id)", viewer: viewer, csrf: csrf)
        }
    }

    /// `POST /requests/:id/decision`: approve or deny on the web (channel `web`) with a comment.
    func decideOnWeb(_ request: Request, _ context: WebContext, id: Int64) async throws -> Response {
        try await web.signedIn(request, context) { viewer, csrf in
            let form = try await FormData.read(request)
            let path = "/requests/\(id)/decision"
            guard CSRF.verify(request, context, form: form, path: path, secret: web.secret) else { return try await web.formExpired(csrf: csrf) }
            guard let action = form["action"].flatMap(DecisionAction.init(rawValue:)) else {
                return try await web.message("Choose Approve or Deny", "Nothing was changed.", viewer: viewer, csrf: csrf, status: .badRequest)
            }
            let outcome = try await web.service.decide(DecisionCommand(
                requestID: id, action: action, comment: form["comment"], proof: .session(viewer),
                evidence: ["client_ip": context.clientAddress], grantSeconds: WebApp.grantSeconds(form)
            ))
            switch outcome {
            case .decided, .approvalRecorded:
                return web.redirect(form["return_to"].flatMap(WebApp.safeReturnPath) ?? "/requests/\(id)")
            case .refused(let refusal, let current):
                guard let current, viewer.maySee(current) else { return try await web.notFound(viewer: viewer, csrf: csrf) }
                return try await web.message(
                    "Nothing was changed", WebApp.explain(refusal, request: current, names: try await web.names()),
                    viewer: viewer, csrf: csrf, status: .conflict, links: [("/requests/\(id)", "Open the request")]
                )
            }
        }
    }
}

extension WebApp {
    static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~@")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// A path on this server to return to after a form, or `nil` for anything else.
    static func safeReturnPath(_ path: String) -> String? { ReturnPath.validated(path) }
}

/// Where a browser may be sent back to after signing in or submitting a form: a path of this
/// gateway only, never an address a browser would resolve to another site.
public enum ReturnPath {
    /// `path` when it is safe to redirect to, else `nil`.
    public static func validated(_ path: String) -> String? {
        // Browsers drop tabs and line breaks from a URL before resolving it (`/\t/evil.example` is
        // `//evil.example`), so no control character or space is allowed anywhere.
        guard path.hasPrefix("/"), !path.hasPrefix("//"), !path.contains("\\"), path.utf8.count < 1_000,
              !path.unicodeScalars.contains(where: { $0.value <= 0x20 || (0x7F...0x9F).contains($0.value) || $0.properties.isWhitespace }),
              let components = URLComponents(string: path), components.scheme == nil, components.host == nil else { return nil }
        return path
    }
}
