import Foundation
import GatewayApp
import GatewayCore
import Hummingbird

/// The requester's pages: their own requests (with Cancel) and the forms that open one.
struct RequesterController: Sendable {
    let web: WebApp

    func addRoutes(to router: Router<WebContext>) {
        router.get("/my-requests") { request, context in try await showMyRequests(request, context) }
        router.post("/my-requests/:id/cancel") { request, context in
            try await cancelMyRequest(request, context, id: try context.parameters.require("id", as: Int64.self))
        }
        router.get("/request-access") { request, context in try await showRequestAccess(request, context) }
        router.get("/request-access/:resource") { request, context in
            try await showRequestForm(request, context, resource: try context.parameters.require("resource"), problem: nil, reason: nil, duration: nil)
        }
        router.post("/request-access/:resource") { request, context in
            try await createRequest(request, context, resource: try context.parameters.require("resource"))
        }
    }

    /// `GET /my-requests`: the signed-in user's own requests, newest first in keyset pages
    /// (``KeysetPage``), with Cancel on open ones.
    func showMyRequests(_ request: Request, _ context: WebContext) async throws -> Response {
        try await web.signedIn(request, context) { viewer, csrf in
            let page = KeysetPage(query: FormData.query(request), size: web.settings.pageSize)
            let listing = try await web.service.requestListing(.own, for: viewer, filter: RequestFilter(limit: page.limit, position: page.position))
            let (requests, links) = page.finish(listing.requests, link: { extra in "/my-requests" + (extra.map { "?" + $0 } ?? "") })
            let rows = requests.map { request in
                var row = RequestTableRow(
                    request: request, requesterName: viewer.user.name, deciderName: request.decision.map { listing.name(of: $0.reviewer) }
                )
                if request.isOpen(at: web.now) {
                    let path = "/my-requests/\(request.id)/cancel"
                    row.action = .cancel(path: path, csrf: csrf.token(for: path, secret: web.secret))
                }
                return row
            }
            var context: [String: Any] = ["request_table": RequestTable.html(rows, showsRequester: false, now: web.now), "empty": rows.isEmpty]
            context.merge(links) { _, new in new }
            if let created = FormData.query(request)["created"] { context["created"] = created }
            return try await web.page("my_requests", context, title: "My requests", viewer: viewer, csrf: csrf, bell: listing.openRequestCount)
        }
    }

    func cancelMyRequest(_ request: Request, _ context: WebContext, id: Int64) async throws -> Response {
        try await web.signedIn(request, context) { viewer, csrf in
            let form = try await FormData.read(request)
            guard CSRF.verify(request, context, form: form, path: "/my-requests/\(id)/cancel", secret: web.secret) else { return try await web.formExpired(csrf: csrf) }
            do {
                _ = try await web.service.cancelRequest(id: id, namedRequester: nil, by: .session(viewer))
            } catch let error as RequestError {
                if error.code == .unknownRequest || error.code == .notRequester { return try await web.notFound(viewer: viewer, csrf: csrf) }
                return try await web.message("Nothing was changed", error.detail, viewer: viewer, csrf: csrf, status: .conflict, links: [("/my-requests", "My requests")])
            }
            return web.redirect("/my-requests")
        }
    }

    func showRequestAccess(_ request: Request, _ context: WebContext) async throws -> Response {
        try await web.signedIn(request, context) { viewer, csrf in
            let resources = try await web.service.directory().resources.filter(\.isActive).map { resource -> [String: Any] in
                ["name": resource.name, "durations": resource.allowedDurations.map { DurationText.format(seconds: $0) }.joined(separator: ", ")]
            }
            return try await web.page("request_access", ["resources": resources], title: "Request access", viewer: viewer, csrf: csrf)
        }
    }

    func showRequestForm(_ request: Request, _ context: WebContext, resource name: String, problem: String?, reason: String?, duration: Int?, status: HTTPResponse.Status = .ok) async throws -> Response {
        try await web.signedIn(request, context) { viewer, csrf in
            guard let resource = try await web.service.directory().resources.first(where: { $0.name == name }), resource.isActive else { return try await web.notFound(viewer: viewer, csrf: csrf) }
            let locked = try await web.service.accessStatus(user: viewer.user.email, resource: name, by: .session(viewer)).lock.map { !$0.isLifted } ?? false
            var context: [String: Any] = [
                "resource": resource.name, "is_unlock": locked, "reason": reason ?? "",
                "csrf": csrf.token(for: "/request-access/\(resource.name)", secret: web.secret),
                "durations": resource.allowedDurations.map { seconds -> [String: Any] in
                    ["seconds": String(seconds), "label": WebFormat.duration(seconds), "selected": seconds == duration]
                },
            ]
            if let problem { context["problem"] = problem }
            return try await web.page("request_form", context, title: "Request access to \(resource.name)", viewer: viewer, csrf: csrf, status: status)
        }
    }

    /// `POST /request-access/:resource`: opens a request through the same rules as every channel.
    func createRequest(_ request: Request, _ context: WebContext, resource: String) async throws -> Response {
        try await web.signedIn(request, context) { viewer, csrf in
            let form = try await FormData.read(request)
            guard CSRF.verify(request, context, form: form, path: "/request-access/\(resource)", secret: web.secret) else { return try await web.formExpired(csrf: csrf) }
            let duration = form["duration"].flatMap(Int.init)
            do {
                let created = try await web.service.openRequest(
                    RequestDraft(resource: resource, reason: form["reason"] ?? "", durationSeconds: duration), by: .session(viewer)
                )
                return web.redirect("/my-requests?created=\(created.id)")
            } catch let error as RequestError {
                return try await showRequestForm(request, context, resource: resource, problem: error.detail, reason: form["reason"], duration: duration, status: .badRequest)
            }
        }
    }
}
