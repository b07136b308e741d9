import Foundation
import Mustache

/// The page templates of `templates/web`, rendered with Mustache (HTML-escaped by default).
struct WebPages: Sendable {
    let library: MustacheLibrary
    /// The one stylesheet, served at `/static/app.css`.
    let stylesheet: String
    /// The JSON API's OpenAPI document, served at `/api/v1/openapi.yaml`.
    let openAPI: String

    /// Every page the server renders; checked at start so that a missing file fails early.
    static let required = [
        "link", "link_invalid", "message", "login", "requests", "request", "users", "user", "resources", "resource",
        "notifications", "my_requests", "request_access", "request_form",
    ]

    init(templatesDirectory: String) async throws {
        let folder = URL(fileURLWithPath: templatesDirectory).appendingPathComponent("web")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw WebConfigurationError("the page templates folder \(folder.path) does not exist; set `templates` in the configuration")
        }
        let loaded: MustacheLibrary
        do {
            loaded = try await MustacheLibrary(directory: folder.path)
        } catch let error as MustacheLibrary.ParserError {
            throw WebConfigurationError("page template \(error.filename) line \(error.context.lineNumber): \(error.error)")
        }
        library = loaded
        let missing = Self.required.filter { loaded.getTemplate(named: $0) == nil }
        guard missing.isEmpty else {
            throw WebConfigurationError("page templates missing in \(folder.path): \(missing.map { "\($0).mustache" }.joined(separator: ", "))")
        }
        func read(_ name: String) throws(WebConfigurationError) -> String {
            do {
                return try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            } catch {
                throw WebConfigurationError("cannot read \(folder.appendingPathComponent(name).path): \(error.localizedDescription)")
            }
        }
        stylesheet = try read("app.css")
        openAPI = try read("openapi.yaml")
    }

    /// Renders page `name` with `context`.
    func render(_ name: String, _ context: [String: Any]) throws -> String {
        guard let text = library.render(context, withTemplate: name) else {
            throw WebConfigurationError("page template \(name) did not render")
        }
        return text
    }
}
