namespace LlmKit.Chat.Tools;

/// <summary>
/// Splits streamed text into what can be shown as text now and what may be the start of a call: text is released
/// as soon as it cannot be part of the format's marker; from the marker on everything is held until the end, then
/// parsed. Not thread-safe (one per stream).
/// </summary>
internal sealed class ToolCallStreamSplitter
{
    private readonly ToolCallFormat _format;
    private readonly System.Text.StringBuilder _held = new();
    private bool _inCalls;

    public ToolCallStreamSplitter(ToolCallFormat format) => _format = format;

    /// <summary>Adds generated text; returns the part that is certainly plain text (possibly empty).</summary>
    public string Push(string delta)
    {
        _held.Append(delta);
        if (_inCalls)
        {
            return "";
        }

        string held = _held.ToString();
        int marker = held.IndexOf(_format.Marker, StringComparison.Ordinal);
        if (marker >= 0)
        {
            _inCalls = true;
            _held.Remove(0, marker);
            return held[..marker];
        }

        // Keep the longest tail that could still grow into the marker.
        int keep = Math.Min(held.Length, _format.Marker.Length - 1);
        while (keep > 0 && !_format.Marker.StartsWith(held[^keep..], StringComparison.Ordinal))
        {
            keep--;
        }

        _held.Remove(0, held.Length - keep);
        return held[..^keep];
    }

    /// <summary>At the end of generation: the held text parsed into calls, and any text that is not a call.</summary>
    public ToolCallParseResult Finish()
    {
        string held = _held.ToString();
        _held.Clear();
        return _inCalls ? _format.Parse(held) : new ToolCallParseResult(held, []);
    }
}
