import Foundation
import Hummingbird
import Logging

/// Logs one line per request (method, path, status, duration) with emailed-link tokens replaced
/// by `[redacted]` and no query string, so tokens never reach the logs (LINK-9). Replaces
/// Hummingbird's request logging, which logs the full URI.
struct RedactingLogMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    /// `path` with any token segment redacted.
    static func redact(_ path: String) -> String {
        for prefix in LinkController.tokenPrefixes where path.hasPrefix(prefix) && path.count > prefix.count {
            return prefix + "[redacted]"
        }
        return path
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let path = Self.redact(request.uri.path)
        do {
            let response = try await next(request, context)
            log(request, path: path, status: response.status.code, started: started)
            return response
        } catch let error as any HTTPResponseError {
            log(request, path: path, status: error.status.code, started: started)
            throw error
        } catch {
            // The error's text may quote the request; only its type is logged.
            logger.error("request failed", metadata: [
                "method": .string(request.method.rawValue), "path": .string(path), "error": .string(String(describing: type(of: error))),
            ])
            throw error
        }
    }

    private func log(_ request: Request, path: String, status: Int, started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        let milliseconds = Double(elapsed.components.seconds) * 1_000 + Double(elapsed.components.attoseconds) / 1e15
        logger.info("request", metadata: [
            "method": .string(request.method.rawValue), "path": .string(path), "status": .stringConvertible(status),
            "ms": .string(String(format: "%.1f", milliseconds)),
        ])
    }
}
