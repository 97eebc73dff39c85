"""``symgrad check``: read the derivations in Markdown and LaTeX notes and check every link."""
