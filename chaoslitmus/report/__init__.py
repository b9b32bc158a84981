"""Chaos Toolkit journals -> one report comparing runs (HTML with charts, or markdown).

``model.build_run`` reads a journal into ``types.Run``; ``html.render_html`` and
``markdown.render_markdown`` render runs; ``cli`` is the `chaoslitmus report`
command. Charts need the ``report`` extra (matplotlib), imported only to draw.
"""
