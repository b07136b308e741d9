import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import Synchronization

/// A real OpenID Connect provider (oidc-provider-mock, installed by `scripts/oidc-lab install`) on a
/// free loopback port, one per test, so that tests can change its people and restart it (which
/// rotates its signing key) without disturbing each other.
public final class OIDCLab: Sendable {
    public let port: Int
    public var issuer: String { "http://127.0.0.1:\(port)" }
    private let users: [String]
    private let process = Mutex<Process?>(nil)

    /// The provider's program; `OIDC_PROVIDER_MOCK` overrides where it is.
    public static var executable: String {
        ProcessInfo.processInfo.environment["OIDC_PROVIDER_MOCK"]
            ?? (ProcessInfo.processInfo.environment["OIDC_LAB_DIR"] ?? "/tmp/oidc-lab") + "/venv/bin/oidc-provider-mock"
    }

    public struct NotRunning: Error, CustomStringConvertible {
        public var description: String
    }

    /// Starts a provider that knows `users` (each a JSON object of claims with its `sub`).
    public static func start(users: [[String: any Sendable]]) async throws -> OIDCLab {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw NotRunning(description: "the OpenID provider is not installed at \(executable): run scripts/oidc-lab install")
        }
        let lines = try users.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
        let lab = OIDCLab(port: try freePort(), users: lines)
        try await lab.launch()
        return lab
    }

    private init(port: Int, users: [String]) {
        self.port = port
        self.users = users
    }

    deinit { stop() }

    private func launch() async throws {
        let provider = Process()
        provider.executableURL = URL(fileURLWithPath: Self.executable)
        provider.arguments = ["--host", "127.0.0.1", "--port", String(port), "--require-nonce"] + users.flatMap { ["--user-claims", $0] }
        provider.standardOutput = FileHandle.nullDevice
        provider.standardError = FileHandle.nullDevice
        try provider.run()
        process.withLock { $0 = provider }
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if (try? await get("/.well-known/openid-configuration")) != nil { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw NotRunning(description: "the OpenID provider did not answer on port \(port) within 20 s")
    }

    /// Stops the provider.
    public func stop() {
        process.withLock { process in
            guard let running = process else { return }
            // SIGKILL: the server would otherwise wait for clients' kept-alive connections to close.
            if running.isRunning { kill(running.processIdentifier, SIGKILL) }
            running.waitUntilExit()
            process = nil
        }
    }

    /// Stops and starts the provider on the same port: it forgets its sessions and signs with a new key.
    public func restart() async throws {
        stop()
        try await launch()
    }

    /// The key ids the provider publishes now.
    public func keyIDs() async throws -> [String] {
        let object = try JSONSerialization.jsonObject(with: try await get("/jwks")) as? [String: Any]
        return (object?["keys"] as? [[String: Any]] ?? []).compactMap { $0["kid"] as? String }
    }

    /// Sets the claims of subject `sub` (the provider's own user API).
    public func setUser(_ sub: String, claims: [String: any Sendable]) async throws {
        var request = HTTPClientRequest(url: issuer + "/users/" + (sub.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? sub))
        request.method = .PUT
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: claims)))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        guard response.status.code == 204 else { throw NotRunning(description: "setting \(sub) at the provider answered \(response.status)") }
    }

    /// Signs `sub` in on the provider's form for `authorizationURL` (what a person does in the
    /// browser) and returns where the provider sends the browser next: the gateway's callback.
    public func signIn(at authorizationURL: String, as sub: String) async throws -> String {
        var request = HTTPClientRequest(url: authorizationURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: "sub=" + (sub.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? sub)))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
        defer { _ = client.shutdown() }
        let response = try await client.execute(request, timeout: .seconds(10))
        guard response.status == .found || response.status == .seeOther, let location = response.headers.first(name: "Location") else {
            let body = try await response.body.collect(upTo: 1 << 16)
            throw NotRunning(description: "the provider's form answered \(response.status): \(String(buffer: body).prefix(300))")
        }
        return location
    }

    /// The HTTP status of `GET url` (any server), for waiting until one answers.
    public func httpStatus(_ url: String) async throws -> UInt {
        try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(5)).status.code
    }

    private func get(_ path: String) async throws -> Data {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: issuer + path), timeout: .seconds(5))
        guard response.status == .ok else { throw NotRunning(description: "\(path) answered \(response.status)") }
        return Data(buffer: try await response.body.collect(upTo: 1 << 20))
    }

    /// A port nothing listens on now (bound and released).
    public static func freePort() throws -> Int {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw NotRunning(description: "no free port for the OpenID provider") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
