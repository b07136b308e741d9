import Hummingbird
import Logging

/// The request context of the web server: Hummingbird's core storage plus the client's address,
/// which decisions record as evidence and sign-in rate limits count by.
public struct WebContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's IP address, or `unknown` (in-process tests).
    public let clientAddress: String

    /// Creates the context for one request on `source`'s channel.
    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// Forms and API bodies are small; anything larger is refused before it is read.
    public var maxUploadSize: Int { 256 * 1024 }
}
