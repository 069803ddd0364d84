"""The Discord front end: `client.Citebot` and its cogs (`ask`, `library`, `admin`), run by
`app.run(settings)`."""
