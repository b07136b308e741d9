import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting

/// A small browser over a Hummingbird test client: keeps cookies (honouring `Path` and `Max-Age=0`),
/// and reads forms' hidden fields from pages.
final class WebClient: @unchecked Sendable {
    let client: any TestClientProtocol
    /// Cookies by name and path, as a browser keeps them (two cookies of one name on different paths coexist).
    private var jar: [String: (name: String, value: String, path: String)] = [:]
    /// The cookies by name (for checks); where one name has several paths, the longest path wins.
    var cookies: [String: (value: String, path: String)] {
        var byName: [String: (value: String, path: String)] = [:]
        for entry in jar.values.sorted(by: { $0.path.count < $1.path.count }) { byName[entry.name] = (entry.value, entry.path) }
        return byName
    }
    var extraHeaders: HTTPFields = [:]

    init(_ client: any TestClientProtocol) { self.client = client }

    struct Page {
        let status: HTTPResponse.Status
        let headers: HTTPFields
        let body: String
        var location: String? { headers[.location] }

        /// The value of the first `<input ... name="NAME" value="...">` in the page (unescaped).
        func field(_ name: String) -> String? {
            Self.fields(in: body, named: name).first
        }

        /// The value of field `name` in the form that posts to `action`.
        func field(_ name: String, inFormPosting action: String) -> String? {
            let pattern = "<form[^>]*action=\"\(NSRegularExpression.escapedPattern(for: action))\"[^>]*>(.*?)</form>"
            let regex = try! NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators])
            guard let match = regex.firstMatch(in: body, range: NSRange(body.startIndex..., in: body)),
                  let range = Range(match.range(at: 1), in: body) else { return nil }
            return Self.fields(in: String(body[range]), named: name).first
        }

        static func fields(in body: String, named name: String) -> [String] {
            let pattern = "<input[^>]*name=\"\(NSRegularExpression.escapedPattern(for: name))\"[^>]*value=\"([^\"]*)\""
            let regex = try! NSRegularExpression(pattern: pattern)
            return regex.matches(in: body, range: NSRange(body.startIndex..., in: body)).compactMap { match in
                Range(match.range(at: 1), in: body).map { String(body[$0]).replacingOccurrences(of: "&amp;", with: "&").replacingOccurrences(of: "&#x3D;", with: "=").replacingOccurrences(of: "&#61;", with: "=") }
            }
        }
    }

    func cookieHeader(for path: String) -> String? {
        let matching = jar.values.filter { path.hasPrefix($0.path) }.map { "\($0.name)=\($0.value)" }.sorted()
        return matching.isEmpty ? nil : matching.joined(separator: "; ")
    }

    func forget(_ name: String) { jar = jar.filter { $0.value.name != name } }
    func setCookie(_ name: String, _ value: String, path: String = "/") { jar["\(name)|\(path)"] = (name, value, path) }

    @discardableResult
    func send(_ method: HTTPRequest.Method, _ uri: String, body: String? = nil, contentType: String = "application/x-www-form-urlencoded", headers: HTTPFields = [:]) async throws -> Page {
        var fields = extraHeaders
        for field in headers { fields.append(field) }
        let path = String(uri.split(separator: "?", maxSplits: 1).first ?? "")
        if let cookie = cookieHeader(for: path) { fields[.cookie] = cookie }
        if body != nil { fields[.contentType] = contentType }
        let response = try await client.executeRequest(uri: uri, method: method, headers: fields, body: body.map { ByteBuffer(string: $0) })
        for header in response.headers[values: .setCookie] {
            let parts = header.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let pair = parts.first, let equals = pair.firstIndex(of: "=") else { continue }
            let name = String(pair[..<equals]), value = String(pair[pair.index(after: equals)...])
            let cookiePath = parts.first { $0.lowercased().hasPrefix("path=") }.map { String($0.dropFirst(5)) } ?? "/"
            if parts.contains(where: { $0.lowercased() == "max-age=0" }) || value.isEmpty {
                jar["\(name)|\(cookiePath)"] = nil
            } else {
                jar["\(name)|\(cookiePath)"] = (name, value, cookiePath)
            }
        }
        return Page(status: response.status, headers: response.headers, body: String(buffer: response.body))
    }

    func get(_ uri: String) async throws -> Page { try await send(.get, uri) }
    func head(_ uri: String) async throws -> Page { try await send(.head, uri) }

    /// GETs `uri` and follows redirects (at most 5), as a browser does.
    func open(_ uri: String) async throws -> Page {
        var page = try await get(uri)
        var hops = 0
        while [.seeOther, .found, .movedPermanently].contains(page.status), let location = page.location, hops < 5 {
            page = try await get(location)
            hops += 1
        }
        return page
    }

    func post(_ uri: String, _ form: [(String, String)], headers: HTTPFields = [:]) async throws -> Page {
        try await send(.post, uri, body: Self.encode(form), headers: headers)
    }

    static func encode(_ form: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return form.map { "\($0.0.addingPercentEncoding(withAllowedCharacters: allowed)!)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&")
    }
}
