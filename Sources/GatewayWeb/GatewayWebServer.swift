import ApprovalTokens
import Foundation
import GatewayCore
import Hummingbird
import Logging

/// The gateway's web server: the pages emailed links open, sign-in, the Access Requests and admin
/// pages, the JSON API, health and metrics.
///
/// ```swift
/// let settings = try WebSettings(listen: "127.0.0.1:8080", publicURL: "http://127.0.0.1:8080", templatesDirectory: "templates")
/// let application = try await GatewayWebServer.makeApplication(store: store, signer: signer, settings: settings)
/// // `application` is a Service: run it in the ServiceGroup beside the outbox worker.
/// ```
public enum GatewayWebServer {
    /// The application type: a Hummingbird application, itself a `Service`.
    public typealias WebApplication = Application<RouterResponder<WebContext>>

    /// Builds the web application.
    /// - Parameters:
    ///   - store: the gateway's store.
    ///   - signer: signs sign-in links and verifies every link token.
    ///   - settings: where to listen, the public URL, the templates.
    ///   - clock: the time (tests move it).
    ///   - logger: where request lines go (tokens redacted).
    /// - Throws: ``WebConfigurationError`` when a template is missing or broken.
    public static func makeApplication(
        store: any WebStore, signer: TokenSigner, settings: WebSettings, clock: any GatewayClock = SystemClock(),
        logger: Logger = Logger(label: "approval-gateway.web")
    ) async throws -> WebApplication {
        let router = try await makeRouter(store: store, signer: signer, settings: settings, clock: clock, logger: logger)
        return Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(settings.host, port: settings.port), serverName: "approval-gateway"),
            logger: logger
        )
    }

    /// Builds the router alone (every route and middleware).
    public static func makeRouter(
        store: any WebStore, signer: TokenSigner, settings: WebSettings, clock: any GatewayClock = SystemClock(),
        logger: Logger = Logger(label: "approval-gateway.web")
    ) async throws -> Router<WebContext> {
        let app = WebApp(
            store: store, signer: signer, pages: try await WebPages(templatesDirectory: settings.templatesDirectory),
            settings: settings, clock: clock, secret: try await store.webSecret(), counters: WebCounters(), logger: logger
        )
        let router = Router(context: WebContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: RedactingLogMiddleware(logger: logger))
        router.add(middleware: SecurityHeadersMiddleware())
        app.addRoutes(to: router)
        return router
    }
}

extension WebApp {
    /// Registers every route. `HEAD` is answered by the `GET` routes, without side effects.
    func addRoutes(to router: Router<WebContext>) {
        router.get("/") { request, _ in
            try await viewer(request) == nil ? redirect("/login") : redirect("/requests")
        }
        router.get("/static/app.css") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "public, max-age=3600"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: pages.stylesheet))
            )
        }

        // Emailed links (LINK-1, LINK-9): GET moves the token out of the URL; the page and the POST
        // live at /link/<handle>.
        for prefix in ["review", "decide", "login"] {
            router.get("/\(prefix)/:token") { _, context in
                stashLinkToken(try context.parameters.require("token"))
            }
        }
        router.get("/link/:handle") { request, context in
            try await showLink(request, handle: try context.parameters.require("handle"))
        }
        router.post("/link/:handle") { request, context in
            try await postLink(request, context: context, handle: try context.parameters.require("handle"))
        }

        router.get("/login") { request, _ in try await showLogin(request) }
        router.post("/login") { request, context in try await requestSignInLink(request, context: context) }
        router.post("/logout") { request, _ in try await signOut(request) }

        router.get("/requests") { request, _ in try await showRequests(request) }
        router.get("/requests/:id") { request, context in
            try await showRequest(request, id: try context.parameters.require("id", as: Int64.self))
        }
        router.post("/requests/:id/decision") { request, context in
            try await decideOnWeb(request, context: context, id: try context.parameters.require("id", as: Int64.self))
        }
        addAdminRoutes(to: router)
        addRequesterRoutes(to: router)
        addAPIRoutes(to: router)
        addOperationsRoutes(to: router)
    }
}
