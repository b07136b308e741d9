import Foundation
import GatewayCore
import GatewayTemplates
import Mustache

/// The email templates of `templates/email`: for each ``NotificationKind``, a subject, a text part and
/// an HTML part (`KIND.subject.mustache`, `KIND.text.mustache`, `KIND.html.mustache`).
public struct EmailTemplates: Sendable {
    let library: MustacheLibrary

    /// Loads the templates from `directory` (the `email` folder inside it), or the ones built into
    /// the binary when `directory` is `nil`, and checks that every kind has its three templates.
    /// - Throws: ``NotificationError`` naming the missing or broken template.
    public init(directory: String?) async throws {
        // Before any template is parsed: the HTML parts name it in their CONTENT_TYPE pragma.
        MustacheContentTypes.register(EscapedHTML(), named: EscapedHTML.name)
        let source: String
        do {
            if let directory {
                let folder = URL(fileURLWithPath: directory).appendingPathComponent("email").path
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
                    throw NotificationError("the email templates folder \(folder) does not exist; fix `templates` in the configuration, or remove it to use the built-in templates")
                }
                library = try await MustacheLibrary(directory: folder)
                source = folder
            } else {
                var embedded = MustacheLibrary()
                for (path, text) in EmbeddedTemplates.files where path.hasPrefix("email/") && path.hasSuffix(".mustache") {
                    let name = String(path.dropFirst("email/".count).dropLast(".mustache".count))
                    do {
                        try embedded.register(text, named: name)
                    } catch {
                        throw NotificationError("built-in email template \(name): \(error)")
                    }
                }
                library = embedded
                source = "the built-in templates"
            }
        } catch let error as MustacheLibrary.ParserError {
            throw NotificationError("email template \(error.filename) line \(error.context.lineNumber): \(error.error)")
        }
        var missing: [String] = []
        for kind in NotificationKind.allCases {
            for part in ["subject", "text", "html"] where library.getTemplate(named: "\(kind.rawValue).\(part)") == nil {
                missing.append("\(kind.rawValue).\(part).mustache")
            }
        }
        guard missing.isEmpty else {
            throw NotificationError("email templates missing in \(source): \(missing.joined(separator: ", "))")
        }
    }

    /// Renders one part of one kind with `context`.
    func render(_ kind: NotificationKind, part: String, context: [String: Any]) throws -> String {
        guard let text = library.render(context, withTemplate: "\(kind.rawValue).\(part)") else {
            throw NotificationError("email template \(kind.rawValue).\(part) did not render")
        }
        return text
    }
}

/// The HTML parts' content type (`{{% CONTENT_TYPE: EMAIL_HTML}}`): the template engine's HTML
/// escaping, done over bytes (``HTMLEscaping``). A custom template without the pragma is escaped
/// by the engine itself, the same way.
struct EscapedHTML: MustacheContentType {
    static let name = "EMAIL_HTML"

    func escapeText(_ text: String) -> String { HTMLEscaping.escape(text) }
}

/// A notification could not be prepared: a template or setting problem, or the data it is about is gone.
public struct NotificationError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
