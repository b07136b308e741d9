import CCurl
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Process-wide libcurl state, set up exactly once.
///
/// `curl_global_init` runs the first time any connection is created (Swift's one-time
/// initialisation of a `static let` makes this thread-safe). Every handle sets
/// `CURLOPT_NOSIGNAL`, so libcurl no longer ignores `SIGPIPE` for us: it is ignored here instead,
/// once, so that writing to a socket the server closed returns an error rather than killing the
/// process.
enum CurlGlobal {
    private static let initResult: CURLcode = {
        signal(SIGPIPE, SIG_IGN)
        return curl_global_init(ccurl_global_all)
    }()

    /// Runs `curl_global_init` once; throws if it failed.
    static func ensureInitialized() throws(MailTransportError) {
        guard initResult == CURLE_OK else {
            throw MailTransportError(
                kind: .configuration,
                message: "libcurl could not be initialised (curl_global_init returned \(initResult.rawValue))",
                curlCode: Int(initResult.rawValue)
            )
        }
    }

    /// The libcurl version string, e.g. `libcurl/7.88.1 OpenSSL/3.0.x ...`.
    static var version: String { String(cString: curl_version()) }
}

/// The libcurl version this process is linked against, e.g. `libcurl/7.88.1 OpenSSL/3.0.17`.
public var libcurlVersion: String { CurlGlobal.version }
