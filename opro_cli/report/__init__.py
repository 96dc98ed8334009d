"""``opro report``: read past run directories (read-only) and compare them.

    reader.py         run directories -> frozen dataclasses; tolerant of unfinished, damaged runs
    compare.py        pure computations: step curves, top candidates, word diff, fixed/broken
    collect.py        the listing (filtered) or the named runs, loaded as the format needs
    text.py           number formatting shared by the renderers ("-" for unknown, never 0)
    render_table.py   Rich tables for the terminal
    render_md.py      GitHub-flavoured Markdown (pull-request comments, step summaries)
    render_json.py    the stable JSON document (shape in docs/report-json.md)
    render_html.py    one self-contained HTML page with inline SVG charts

Nothing here imports litellm, pandas or pydantic: listing 100 runs must stay well under a second.
"""
