"""``opro report``: read past run directories (read-only) and compare them.

    reader.py         run directories (through opro_cli.rundir) -> rows and details; tolerant of
                      unfinished and damaged runs
    compare.py        pure computations: step curves, top candidates, word diff, fixed/broken
    collect.py        the listing (filtered) or the named runs, loaded as the format needs
    text.py           the tables as text cells, shared by the renderers (numbers formatted by
                      opro_cli.formatting: "-" for unknown, never 0)
    render_table.py   Rich tables for the terminal
    render_md.py      GitHub-flavoured Markdown (pull-request comments, job summaries)
    render_json.py    the stable JSON document (shape in docs/report-json.md)
    render_html.py    one self-contained HTML page; svg.py draws its charts

Nothing here imports litellm, pandas or pydantic: listing 100 runs must stay well under a second.
"""
