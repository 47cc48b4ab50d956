"""The suite's network guard; see ``sitecustomize``. A package only so the tests can import it."""
