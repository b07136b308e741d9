import Foundation
import GatewayTemplates
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

    /// Loads the pages from `templatesDirectory` (its `web` folder), or the ones built into the binary
    /// when it is `nil`, and checks that every page is there.
    init(templatesDirectory: String?) async throws {
        let loaded: MustacheLibrary
        let source: String
        var files: [String: String] = [:]
        do {
            if let templatesDirectory {
                let folder = URL(fileURLWithPath: templatesDirectory).appendingPathComponent("web")
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
                    throw WebConfigurationError("the page templates folder \(folder.path) does not exist; fix `templates` in the configuration, or remove it to use the built-in templates")
                }
                loaded = try await MustacheLibrary(directory: folder.path)
                source = folder.path
                for name in ["app.css", "openapi.yaml"] {
                    do {
                        files[name] = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
                    } catch {
                        throw WebConfigurationError("cannot read \(folder.appendingPathComponent(name).path): \(error.localizedDescription)")
                    }
                }
            } else {
                var embedded = MustacheLibrary()
                for (path, text) in EmbeddedTemplates.files where path.hasPrefix("web/") {
                    let name = String(path.dropFirst("web/".count))
                    if name.hasSuffix(".mustache") {
                        do {
                            try embedded.register(text, named: String(name.dropLast(".mustache".count)))
                        } catch {
                            throw WebConfigurationError("built-in page template \(name): \(error)")
                        }
                    } else {
                        files[name] = text
                    }
                }
                loaded = embedded
                source = "the built-in templates"
            }
        } catch let error as MustacheLibrary.ParserError {
            throw WebConfigurationError("page template \(error.filename) line \(error.context.lineNumber): \(error.error)")
        }
        library = loaded
        let missing = Self.required.filter { loaded.getTemplate(named: $0) == nil }
        guard missing.isEmpty else {
            throw WebConfigurationError("page templates missing in \(source): \(missing.map { "\($0).mustache" }.joined(separator: ", "))")
        }
        guard let stylesheet = files["app.css"], let openAPI = files["openapi.yaml"] else {
            throw WebConfigurationError("app.css or openapi.yaml is missing in \(source)")
        }
        self.stylesheet = stylesheet
        self.openAPI = openAPI
    }

    /// Renders page `name` with `context`.
    func render(_ name: String, _ context: [String: Any]) throws -> String {
        guard let text = library.render(context, withTemplate: name) else {
            throw WebConfigurationError("page template \(name) did not render")
        }
        return text
    }
}
