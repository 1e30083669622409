"""Drop-in replacements for the most used clkhash and anonlink calls, with
their arguments and results (docs/python.md lists them side by side):

    from blindlink.compat.clkhash import clk, schema      # was: from clkhash import clk, schema
    from blindlink.compat import anonlink                  # was: import anonlink
"""
