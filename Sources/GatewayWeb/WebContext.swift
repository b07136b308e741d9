import Foundation
import GatewayApp
import GatewayCore
import Hummingbird
import HummingbirdAuth
import Logging

/// The request context of the web server: Hummingbird's core storage, the client's address (which
/// decisions record as evidence and sign-in limits count by), and the signed-in viewer that
/// ``SessionAuthenticator`` found, if any.
public struct WebContext: AuthRequestContext, RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The client's IP address: the peer, or the client a trusted reverse proxy names in
    /// `X-Forwarded-For` (``ClientAddressMiddleware``); `unknown` in in-process tests.
    public var clientAddress: String
    /// The address of the connection's other end (a reverse proxy, or the client itself).
    public let peerAddress: String
    /// The signed-in user, as of this request.
    public var identity: Viewer?

    /// Creates the context for one request on `source`'s channel.
    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        peerAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
        clientAddress = peerAddress
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

/// Names the client behind trusted reverse proxies: when the peer is one of `trustedProxies`, the
/// client is the right-most `X-Forwarded-For` address that is not itself a trusted proxy (the
/// left-most one when all are). From any other peer the header is ignored: a client cannot choose
/// its own address, and so cannot escape the per-client sign-in limits.
struct ClientAddressMiddleware: RouterMiddleware {
    typealias Context = WebContext
    let trustedProxies: [IPAddressRange]

    func handle(_ request: Request, context: WebContext, next: (Request, WebContext) async throws -> Response) async throws -> Response {
        guard !trustedProxies.isEmpty, isTrusted(context.peerAddress) else { return try await next(request, context) }
        let forwarded = request.headers[values: .xForwardedFor]
            .flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { IPAddressRange($0) != nil }
        guard let client = forwarded.last(where: { !isTrusted($0) }) ?? forwarded.first else { return try await next(request, context) }
        var context = context
        context.clientAddress = client
        return try await next(request, context)
    }

    func isTrusted(_ address: String) -> Bool { trustedProxies.contains { $0.contains(address) } }
}
