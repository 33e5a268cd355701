namespace LlmKit.Plugins.Compression.History;

/// <summary>Chat roles as the reducers see them, common to Semantic Kernel and Microsoft.Extensions.AI messages.</summary>
internal enum HistoryMessageRole
{
    System,
    User,
    Assistant,
    Tool,
    Other,
}

/// <summary>Marks the reducers put in message metadata (key <see cref="Key"/>), so later reductions recognise their own messages.</summary>
public static class HistoryTags
{
    /// <summary>Metadata key (SK <c>Metadata</c>, M.E.AI <c>AdditionalProperties</c>) holding one of the tag values below.</summary>
    public const string Key = "llmkit.compression";

    /// <summary>A summary of earlier turns written by the chat service.</summary>
    public const string Summary = "summary";

    /// <summary>A copy of the system instruction placed next to the latest user turn.</summary>
    public const string ReassertedInstruction = "reasserted-instruction";

    /// <summary>A note saying how many earlier messages (and which function calls) were omitted.</summary>
    public const string OmissionNote = "omission-note";

    /// <summary>A message whose text was shortened by the prompt compressor.</summary>
    public const string Compressed = "compressed";

    /// <summary>An older message that would have been dropped, kept because it is relevant to the newest user message.</summary>
    public const string Recalled = "recalled";
}
