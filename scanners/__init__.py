"""Scanners find a subject inside free text and objects (Presidio, subject matcher, readers).

Structured discovery (dsr.discovery) covers identity columns and references; free-text fields
(`free_text: true` in a dataset) and object stores are scanned here.
"""
