import ApprovalTokens
import Foundation
import GatewayApp
import GatewayCore
import HummingbirdAuth
import Hummingbird
import Logging

/// The gateway's web server: the pages emailed links open, sign-in, the Access Requests and admin
/// pages, the JSON API, health and metrics.
///
/// ```swift
/// let settings = try WebSettings(listen: "127.0.0.1:8080", publicURL: "http://127.0.0.1:8080", templatesDirectory: "templates")
/// let application = try await GatewayWebServer.makeApplication(service: service, signer: signer, settings: settings)
/// // `application` is a Service: run it in the ServiceGroup beside the outbox worker.
/// ```
public enum GatewayWebServer {
    /// The application type: a Hummingbird application, itself a `Service`.
    public typealias WebApplication = Application<RouterResponder<WebContext>>

    /// Builds the web application.
    /// - Parameters:
    ///   - service: the approval service every route translates to.
    ///   - signer: verifies every link token.
    ///   - settings: where to listen, the public URL, the templates.
    ///   - clock: the time (tests move it).
    ///   - logger: where request lines go (tokens redacted).
    /// - Throws: ``WebConfigurationError`` when a template is missing or broken.
    public static func makeApplication(
        service: ApprovalService, signer: TokenSigner, settings: WebSettings,
        logger: Logger = Logger(label: "approval-gateway.web")
    ) async throws -> WebApplication {
        let router = try await makeRouter(service: service, signer: signer, settings: settings, logger: logger)
        return Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(settings.host, port: settings.port), serverName: "approval-gateway"),
            logger: logger
        )
    }

    /// Loads the page templates (from `directory`, or the built-in ones) and reports what is wrong.
    /// - Throws: ``WebConfigurationError`` naming the missing or broken template.
    public static func checkTemplates(directory: String?) async throws {
        _ = try await WebPages(templatesDirectory: directory)
    }

    /// Builds the router alone (every route and middleware).
    public static func makeRouter(
        service: ApprovalService, signer: TokenSigner, settings: WebSettings,
        logger: Logger = Logger(label: "approval-gateway.web")
    ) async throws -> Router<WebContext> {
        let web = WebApp(
            service: service, signer: signer, pages: try await WebPages(templatesDirectory: settings.templatesDirectory),
            settings: settings, clock: service.clock, secret: WebKey(secret: try await service.storage.webSecret()), counters: WebCounters(), logger: logger
        )
        let router = Router(context: WebContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: ClientAddressMiddleware(trustedProxies: settings.trustedProxies))
        router.add(middleware: RedactingLogMiddleware(logger: logger))
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(middleware: SessionAuthenticator(service: service))
        router.get("/static/app.css") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "public, max-age=3600"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: web.pages.stylesheet))
            )
        }
        // Emailed links (LINK-1, LINK-9): GET moves the token out of the URL; the page and the POST
        // live at /link/<handle>.
        LinkController(web: web).addRoutes(to: router)
        SignInController(web: web).addRoutes(to: router)
        if let provider = settings.identityProvider {
            OIDCController(web: web, provider: provider).addRoutes(to: router)
        }
        AccessRequestsController(web: web).addRoutes(to: router)
        AdminController(web: web).addRoutes(to: router)
        RequesterController(web: web).addRoutes(to: router)
        APIController(web: web).addRoutes(to: router)
        OperationsController(web: web).addRoutes(to: router)
        return router
    }
}
