import Mustache

/// The pages' templates, rendered by swift-mustache, which escapes every `{{value}}` for HTML.
/// `{{{content}}}` is used once, in the layout, for a page these templates rendered; no other
/// value is ever unescaped. Kept in the binary (no resource bundle to install beside it).
enum WebTemplates {
    static let all: [String: String] = [
        "layout": layout, "signin": signin, "articles": articles, "article": article, "diff": diff,
        "restore": restore, "conflicts": conflicts, "sites": sites, "status": status, "message": message,
        "diffblocks": diffBlocks, "blame": blame,
    ].mapValues { "{{% CONTENT_TYPE: \(ScalarHTML.name)}}" + $0 }

    static let layout = """
        <!doctype html>
        <html lang="{{t.lang}}">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{pageTitle}} · {{t.title}}</title>
        <link rel="stylesheet" href="/style.css">
        </head>
        <body>
        <header>
        <nav>
        <a class="brand" href="/articles">newsd</a>
        {{#account}}
        <a href="/articles">{{t.articles}}</a>
        <a href="/conflicts">{{t.conflicts}}</a>
        <a href="/sites">{{t.sites}}</a>
        <a href="/status">{{t.status}}</a>
        {{/account}}
        <span class="spacer"></span>
        <a href="?{{langQuery}}lang={{t.other_lang}}" hreflang="{{t.other_lang}}">{{t.other_lang_name}}</a>
        {{#account}}
        <span class="who">{{t.signed_in_as}} {{name}} ({{roleName}})</span>
        <form method="post" action="/signout"><input type="hidden" name="csrf" value="{{csrf}}"><button>{{t.sign_out}}</button></form>
        {{/account}}
        </nav>
        </header>
        <main>
        {{#notice}}<p class="notice">{{notice}}</p>{{/notice}}
        {{{content}}}
        </main>
        </body>
        </html>
        """

    static let signin = """
        <h1>{{t.sign_in}}</h1>
        {{#error}}<p class="error">{{error}}</p>{{/error}}
        <form method="post" action="/signin" class="signin">
        <label>{{t.account}} <input name="name" autocomplete="username" required></label>
        <label>{{t.password}} <input name="password" type="password" autocomplete="current-password" required></label>
        <button>{{t.sign_in}}</button>
        </form>
        """

    static let articles = """
        <h1>{{t.articles}} <small>{{total}}</small></h1>
        <form method="get" action="/articles" class="search">
        <input type="search" name="q" value="{{query}}" placeholder="{{t.search_hint}}" aria-label="{{t.search}}">
        <input type="hidden" name="filter" value="{{filter}}">
        <button>{{t.search}}</button>
        </form>
        <p class="filters">{{#filters}}<a href="/articles?filter={{value}}&amp;q={{queryEscaped}}"{{#current}} aria-current="page"{{/current}}>{{label}}</a> {{/filters}}</p>
        {{#hasRows}}
        <table class="articles">
        <thead><tr><th>{{t.article}}</th><th>{{t.title_col}}</th><th>{{t.last_change}}</th><th>{{t.origin}}</th><th>{{t.size}}</th></tr></thead>
        <tbody>
        {{#rows}}
        <tr{{#conflicted}} class="conflicted"{{/conflicted}}>
        <td><a href="/article?path={{pathQuery}}">{{article}}</a>{{#conflicted}} <span class="badge">{{t.conflicts}}</span>{{/conflicted}}{{#deleted}} <span class="badge">{{t.deleted}}</span>{{/deleted}}</td>
        <td>{{title}}</td>
        <td><time datetime="{{timeISO}}">{{timeLocal}}</time></td>
        <td>{{origin}}</td>
        <td>{{size}}</td>
        </tr>
        {{/rows}}
        </tbody>
        </table>
        {{/hasRows}}
        {{^rows}}<p>{{t.no_articles}}</p>{{/rows}}
        <p class="pages">{{t.page}} {{pageNumber}} {{t.of}} {{pageCount}}
        {{#previousPage}}<a href="/articles?filter={{filter}}&amp;q={{queryEscaped}}&amp;page={{previousPage}}">{{t.previous}}</a>{{/previousPage}}
        {{#nextPage}}<a href="/articles?filter={{filter}}&amp;q={{queryEscaped}}&amp;page={{nextPage}}">{{t.next}}</a>{{/nextPage}}
        </p>
        """

    static let article = """
        <h1>{{article}}</h1>
        <section class="timeline">
        <h2>{{t.versions}}</h2>
        <table>
        <thead><tr><th>{{t.version}}</th><th>{{t.time}}</th><th>{{t.origin}}</th><th>{{t.author}}</th><th>{{t.size}}</th><th>{{t.what_changed}}</th><th></th></tr></thead>
        <tbody>
        {{#versions}}
        <tr{{#selected}} class="selected"{{/selected}}>
        <td><a href="/article?path={{pathQuery}}&amp;v={{short}}"><code>{{short}}</code></a>{{#isHead}} <span class="badge">{{t.winner}}</span>{{/isHead}}</td>
        <td><time datetime="{{timeISO}}">{{timeLocal}}</time></td>
        <td>{{origin}}</td>
        <td>{{#author}}{{author}}{{/author}}{{^author}}<span class="muted">{{t.unknown_author}}</span>{{/author}}</td>
        <td>{{size}}{{#deleted}} ({{t.deleted}}){{/deleted}}</td>
        <td>{{#previous}}<a href="/diff?path={{pathQuery}}&amp;from={{previous}}&amp;to={{short}}">+{{added}} / −{{removed}}</a>{{/previous}}</td>
        <td>{{#mayRestore}}{{^isHead}}{{^deleted}}<a class="button" href="/restore?path={{pathQuery}}&amp;v={{short}}">{{t.restore}}</a>{{/deleted}}{{/isHead}}{{/mayRestore}}</td>
        </tr>
        {{/versions}}
        </tbody>
        </table>
        {{#olderPage}}<p class="pages"><a href="/article?path={{pathQuery}}&amp;vpage={{olderPage}}">{{t.next}}</a></p>{{/olderPage}}
        {{#newerPage}}<p class="pages"><a href="/article?path={{pathQuery}}&amp;vpage={{newerPage}}">{{t.previous}}</a></p>{{/newerPage}}
        </section>
        <section class="text">
        <h2>{{#shownVersion}}{{t.text_of_version}} <code>{{shownVersion}}</code>{{/shownVersion}}{{^shownVersion}}{{t.current_text}}{{/shownVersion}}</h2>
        {{#showsText}}<p><a href="/blame?path={{pathQuery}}{{#shownVersion}}&amp;v={{shownVersion}}{{/shownVersion}}">{{t.blame}}</a></p>{{/showsText}}
        <pre class="article-text">{{text}}</pre>
        </section>
        """

    static let blame = """
        <h1>{{article}}</h1>
        <p>{{t.blame_of}} <a href="/article?path={{pathQuery}}&amp;v={{short}}"><code>{{short}}</code></a></p>
        <table class="blame">
        <thead><tr><th>{{t.version}}</th><th>{{t.author}}</th><th>{{t.time}}</th><th>{{t.paragraph}}</th></tr></thead>
        <tbody>
        {{#lines}}
        <tr{{#change}} class="first"{{/change}}>
        {{#change}}<td><a href="/article?path={{pathQuery}}&amp;v={{short}}"><code>{{short}}</code></a> <span class="muted">{{origin}}</span></td>
        <td>{{author}}</td><td><time datetime="{{timeISO}}">{{timeLocal}}</time></td>{{/change}}
        {{^change}}<td></td><td></td><td></td>{{/change}}
        <td lang="vi">{{text}}</td>
        </tr>
        {{/lines}}
        </tbody>
        </table>
        {{#stopped}}<p class="muted">{{t.blame_stopped}} {{walked}} ({{why}}).</p>{{/stopped}}
        {{#approximate}}<p class="muted">{{t.blame_approximate}}</p>{{/approximate}}
        """

    static let diffBlocks = """
        {{#blocks}}<p class="diff-block">{{#segments}}{{#same}}{{text}}{{/same}}{{#ins}}<ins>{{text}}</ins>{{/ins}}{{#del}}<del>{{text}}</del>{{/del}}{{/segments}}</p>
        {{/blocks}}{{#cut}}<p class="notice">{{t.cut}}</p>{{/cut}}
        """

    static let diff = """
        <h1>{{article}}</h1>
        <p>{{t.from}} <a href="/article?path={{pathQuery}}&amp;v={{from}}"><code>{{from}}</code></a> {{t.to}} <a href="/article?path={{pathQuery}}&amp;v={{to}}"><code>{{to}}</code></a>:
        +{{added}} {{t.words_added}}, −{{removed}} {{t.words_removed}}.
        <a href="/diff?path={{pathQuery}}&amp;from={{from}}&amp;to={{to}}&amp;mode=word"{{#wordMode}} aria-current="page"{{/wordMode}}>{{t.word_diff}}</a>
        <a href="/diff?path={{pathQuery}}&amp;from={{from}}&amp;to={{to}}&amp;mode=line"{{#lineMode}} aria-current="page"{{/lineMode}}>{{t.line_diff}}</a></p>
        <div class="diff">{{> diffblocks}}</div>
        """

    static let restore = """
        <h1>{{t.restore}}: {{article}} <code>{{version}}</code></h1>
        <p>{{t.restore_confirm}}</p>
        <p>{{t.restore_changes}}</p>
        <div class="diff">{{> diffblocks}}</div>
        <form method="post" action="/restore">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="path" value="{{article}}">
        <input type="hidden" name="v" value="{{version}}">
        <button class="primary">{{t.restore}}</button>
        </form>
        """

    static let conflicts = """
        <h1>{{t.conflicts}}</h1>
        {{^items}}<p>{{t.no_conflicts}}</p>{{/items}}
        {{#items}}
        <section class="conflict">
        <h2><a href="/article?path={{pathQuery}}">{{article}}</a></h2>
        <p>{{t.why_winner}}</p>
        <div class="side-by-side">
        {{#heads}}
        <div class="head{{#winner}} winner{{/winner}}">
        <h3><code>{{short}}</code> · {{origin}} · <time datetime="{{timeISO}}">{{timeLocal}}</time>{{#winner}} · {{t.winner}}{{/winner}}</h3>
        <pre class="article-text">{{text}}</pre>
        {{#mayResolve}}
        <form method="post" action="/resolve">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="path" value="{{article}}">
        <input type="hidden" name="take" value="{{short}}">
        <button>{{t.keep_this}}</button>
        </form>
        {{/mayResolve}}
        </div>
        {{/heads}}
        </div>
        </section>
        {{/items}}
        """

    static let sites = """
        <h1>{{t.sites}}</h1>
        <p>{{t.this_site}}: <code>{{siteId}}</code> ({{siteName}}){{#listening}}, {{listening}}{{/listening}}</p>
        <table>
        <thead><tr><th>{{t.peer}}</th><th></th><th>{{t.in_sync}}</th><th>{{t.last_exchange}}</th><th>{{t.clock_skew}}</th></tr></thead>
        <tbody>
        {{#peers}}
        <tr><td><code>{{id}}</code> {{name}}</td><td>{{#connected}}{{t.connected}}{{/connected}}{{^connected}}{{t.not_connected}}{{/connected}}</td>
        <td>{{state}}</td><td>{{lastExchange}}</td><td>{{clock}}</td></tr>
        {{/peers}}
        </tbody>
        </table>
        {{#hasPending}}
        <h2>{{t.pending}}</h2>
        <table><tbody>{{#pending}}<tr><td><code>{{id}}</code></td><td>{{address}}</td><td>{{attempts}}</td><td>{{lastSeen}}</td><td><code>{{accept}}</code></td></tr>{{/pending}}</tbody></table>
        {{/hasPending}}
        """

    static let status = """
        <h1>{{t.status}}</h1>
        <h2>{{t.problems}}</h2>
        {{#hasProblems}}<ul class="problems">{{#problems}}<li>{{.}}</li>{{/problems}}</ul>{{/hasProblems}}
        {{^problems}}<p class="ok">{{t.all_well}}</p>{{/problems}}
        <table>
        <tbody>
        {{#rows}}<tr><th>{{label}}</th><td>{{value}}</td></tr>{{/rows}}
        </tbody>
        </table>
        """

    static let message = """
        <h1>{{heading}}</h1>
        <p>{{text}}</p>
        """

    static let style = """
        :root { --ins: #d7f5dd; --ins-text: #0b5a1d; --del: #fbdada; --del-text: #8a1111; --line: #ddd; }
        * { box-sizing: border-box; }
        body { font: 16px/1.5 system-ui, "Noto Sans", "DejaVu Sans", sans-serif; margin: 0; color: #1b1b1b; background: #fff; }
        header { background: #13294b; }
        nav { display: flex; gap: 1rem; align-items: center; padding: .5rem 1rem; flex-wrap: wrap; }
        nav a, nav .who { color: #fff; text-decoration: none; }
        nav .brand { font-weight: 700; }
        nav .spacer { flex: 1; }
        nav form { display: inline; }
        main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        tr.conflicted td:first-child { border-left: 3px solid #c77700; }
        tr.selected { background: #f3f6fb; }
        table.blame tr.first td { border-top: 1px solid #ccc; }
        table.blame td:last-child { white-space: pre-wrap; }
        .badge { font-size: .75rem; background: #eee; border-radius: .3rem; padding: 0 .3rem; }
        .muted { color: #666; }
        .article-text { white-space: pre-wrap; font: inherit; background: #fafafa; padding: 1rem; border: 1px solid var(--line); }
        .diff-block { white-space: pre-wrap; margin: .3rem 0; padding: .3rem .5rem; border-left: 3px solid var(--line); }
        ins { background: var(--ins); color: var(--ins-text); text-decoration: underline; }
        del { background: var(--del); color: var(--del-text); text-decoration: line-through; }
        .side-by-side { display: grid; grid-template-columns: repeat(auto-fit, minmax(18rem, 1fr)); gap: 1rem; }
        .head.winner { outline: 2px solid #0b5a1d; }
        .notice { background: #fff7d6; padding: .5rem; }
        .error, .problems li { color: #8a1111; }
        .ok { color: #0b5a1d; }
        a[aria-current] { font-weight: 700; }
        .signin label { display: block; margin: .5rem 0; }
        button, .button { font: inherit; padding: .2rem .6rem; border: 1px solid #13294b; background: #fff; color: #13294b; border-radius: .3rem; text-decoration: none; cursor: pointer; }
        button.primary { background: #13294b; color: #fff; }
        """
}

/// HTML escaping by Unicode scalar. swift-mustache's own escapes by `Character`, and a quote
/// followed by a combining mark is one Character that is not a quote: `"\u{301}` would close an
/// attribute unescaped. Registered once, named by every template's `CONTENT_TYPE` pragma.
struct ScalarHTML: MustacheContentType {
    static let name = "SCALAR_HTML"
    static let registered: Void = MustacheContentTypes.register(ScalarHTML(), named: name)

    func escapeText(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "<": out.append(contentsOf: "&lt;".unicodeScalars)
            case ">": out.append(contentsOf: "&gt;".unicodeScalars)
            case "&": out.append(contentsOf: "&amp;".unicodeScalars)
            case "\"": out.append(contentsOf: "&quot;".unicodeScalars)
            case "'": out.append(contentsOf: "&#39;".unicodeScalars)
            default: out.append(scalar)
            }
        }
        return String(out)
    }
}
