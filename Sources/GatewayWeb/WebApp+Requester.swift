import Foundation
import GatewayCore
import Hummingbird

extension WebApp {
    func addRequesterRoutes(to router: Router<WebContext>) {
        router.get("/my-requests") { request, _ in try await showMyRequests(request) }
        router.post("/my-requests/:id/cancel") { request, context in
            try await cancelMyRequest(request, id: try context.parameters.require("id", as: Int64.self))
        }
        router.get("/request-access") { request, _ in try await showRequestAccess(request) }
        router.get("/request-access/:resource") { request, context in
            try await showRequestForm(request, resource: try context.parameters.require("resource"), problem: nil, reason: nil, duration: nil)
        }
        router.post("/request-access/:resource") { request, context in
            try await createRequest(request, resource: try context.parameters.require("resource"))
        }
    }

    /// `GET /my-requests`: the signed-in user's own requests, newest first, with Cancel on open ones.
    func showMyRequests(_ request: Request) async throws -> Response {
        try await signedIn(request) { viewer, csrf in
            let requests = try await store.requests(RequestFilter(requester: viewer.user.email, limit: 200))
            let names = try await names()
            let rows = requests.map { request -> [String: Any] in
                var row = WebFormat.request(request, names: names, now: now)
                if request.isOpen(at: now) {
                    row["cancel_path"] = "/my-requests/\(request.id)/cancel"
                    row["cancel_csrf"] = csrf.token(for: "/my-requests/\(request.id)/cancel", secret: secret)
                }
                return row
            }
            var context: [String: Any] = ["rows": rows, "empty": rows.isEmpty]
            if let created = FormData.query(request)["created"] { context["created"] = created }
            return try await page("my_requests", context, title: "My requests", viewer: viewer, csrf: csrf)
        }
    }

    func cancelMyRequest(_ request: Request, id: Int64) async throws -> Response {
        try await signedIn(request) { viewer, csrf in
            let form = try await FormData.read(request)
            guard CSRF.verify(request, form: form, path: "/my-requests/\(id)/cancel", secret: secret) else { return try await formExpired(csrf: csrf) }
            do {
                _ = try await store.cancelRequest(id: id, requester: viewer.user.email, now: now)
            } catch let error as RequestError {
                if error.code == .unknownRequest || error.code == .notRequester { return try await notFound(viewer: viewer, csrf: csrf) }
                return try await message("Nothing was changed", error.detail, viewer: viewer, csrf: csrf, status: .conflict, links: [("/my-requests", "My requests")])
            }
            return redirect("/my-requests")
        }
    }

    func showRequestAccess(_ request: Request) async throws -> Response {
        try await signedIn(request) { viewer, csrf in
            let resources = try await store.resources().filter(\.isActive).map { resource -> [String: Any] in
                ["name": resource.name, "durations": resource.allowedDurations.map { DurationText.format(seconds: $0) }.joined(separator: ", ")]
            }
            return try await page("request_access", ["resources": resources], title: "Request access", viewer: viewer, csrf: csrf)
        }
    }

    func showRequestForm(_ request: Request, resource name: String, problem: String?, reason: String?, duration: Int?, status: HTTPResponse.Status = .ok) async throws -> Response {
        try await signedIn(request) { viewer, csrf in
            guard let resource = try await store.resource(named: name), resource.isActive else { return try await notFound(viewer: viewer, csrf: csrf) }
            let locked = try await store.accessStatus(user: viewer.user.email, resource: name, at: now).lock.map { !$0.isLifted } ?? false
            var context: [String: Any] = [
                "resource": resource.name, "is_unlock": locked, "reason": reason ?? "",
                "csrf": csrf.token(for: "/request-access/\(resource.name)", secret: secret),
                "durations": resource.allowedDurations.map { seconds -> [String: Any] in
                    ["seconds": String(seconds), "label": WebFormat.duration(seconds), "selected": seconds == duration]
                },
            ]
            if let problem { context["problem"] = problem }
            return try await page("request_form", context, title: "Request access to \(resource.name)", viewer: viewer, csrf: csrf, status: status)
        }
    }

    /// `POST /request-access/:resource`: opens a request through the same rules as every channel.
    func createRequest(_ request: Request, resource: String) async throws -> Response {
        try await signedIn(request) { viewer, csrf in
            let form = try await FormData.read(request)
            guard CSRF.verify(request, form: form, path: "/request-access/\(resource)", secret: secret) else { return try await formExpired(csrf: csrf) }
            let duration = form["duration"].flatMap(Int.init)
            do {
                let created = try await store.createRequest(
                    NewAccessRequest(requester: viewer.user.email, resource: resource, reason: form["reason"] ?? "", durationSeconds: duration),
                    now: now
                )
                return redirect("/my-requests?created=\(created.id)")
            } catch let error as RequestError {
                return try await showRequestForm(request, resource: resource, problem: error.detail, reason: form["reason"], duration: duration, status: .badRequest)
            }
        }
    }
}
