"""`python -m eval`: every evaluation table (see eval.run)."""

from eval.run import main

if __name__ == "__main__":
    raise SystemExit(main())
