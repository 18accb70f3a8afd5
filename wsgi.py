from cairn import create_app
app = create_app()
