import GatewayCore

/// One page of a newest-first list of requests, read with keyset pagination: the position comes
/// from the query (`before=ID`: older than that request, `after=ID`: newer, `last=1`: the oldest
/// page), the store reads one row more than a page, and the page's links follow from what came
/// back. A deep page costs what the first one does.
struct KeysetPage {
    let position: RequestFilter.Position
    let size: Int

    init(query: FormData, size: Int) {
        if let id = query["before"].flatMap(Int64.init) {
            position = .olderThan(id)
        } else if let id = query["after"].flatMap(Int64.init) {
            position = .newerThan(id)
        } else if query["last"] == "1" {
            position = .oldest
        } else {
            position = .newest
        }
        self.size = size
    }

    /// What the store is asked for: a page and one more row.
    var limit: Int { size + 1 }

    /// The query parameter that names this page (for return paths), `nil` for the newest page.
    var parameter: String? {
        switch position {
        case .newest: nil
        case .olderThan(let id): "before=\(id)"
        case .newerThan(let id): "after=\(id)"
        case .oldest: "last=1"
        }
    }

    /// The rows of the page (newest first) and the template values of its links (`newest_url`,
    /// `prev_url`, `next_url`, `oldest_url`; absent when there is no such page). `link` turns a
    /// page parameter (`nil` for the newest page) into the page's URL with its filters.
    func finish(_ found: [AccessRequest], link: (String?) -> String) -> (rows: [AccessRequest], links: [String: String]) {
        // The extra row, if any, sits at the end of the direction read.
        let more = found.count > size
        var rows = found
        if more { rows = position.readsOldestFirst ? Array(found.dropFirst()) : Array(found.dropLast()) }
        let (hasNewer, hasOlder): (Bool, Bool) = switch position {
        case .newest: (false, more)
        case .olderThan: (true, more)
        case .newerThan: (more, true)
        case .oldest: (more, false)
        }
        var links: [String: String] = [:]
        if hasNewer, let newest = rows.first {
            links["newest_url"] = link(nil)
            links["prev_url"] = link("after=\(newest.id)")
        }
        if hasOlder, let oldest = rows.last {
            links["next_url"] = link("before=\(oldest.id)")
            links["oldest_url"] = link("last=1")
        }
        return (rows, links)
    }
}
