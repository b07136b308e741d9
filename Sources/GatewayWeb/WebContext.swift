import GatewayApp
import Hummingbird
import HummingbirdAuth
import Logging

/// The request context of the web server: Hummingbird's core storage, the client's address (which
/// decisions record as evidence and sign-in limits count by), and the signed-in viewer that
/// ``SessionAuthenticator`` found, if any.
public struct WebContext: AuthRequestContext, RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's IP address, or `unknown` (in-process tests).
    public let clientAddress: String
    /// The signed-in user, as of this request.
    public var identity: Viewer?

    /// Creates the context for one request on `source`'s channel.
    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
        identity = nil
    }

    /// Forms and API bodies are small; anything larger is refused before it is read.
    public var maxUploadSize: Int { 256 * 1024 }
}

/// Puts the signed-in viewer into the context: the session cookie's secret, looked up through the
/// approval service (a live session of an active user, with the rights they hold now).
struct SessionAuthenticator: AuthenticatorMiddleware {
    typealias Context = WebContext
    let service: ApprovalService

    func authenticate(request: Request, context: WebContext) async throws -> Viewer? {
        guard let secret = request.cookies[Cookies.session]?.value else { return nil }
        return try await service.viewer(sessionSecret: secret)
    }
}
