namespace LlmKit.Plugins.Compression.History;

/// <summary>What the reduction logic needs from a message type, so one implementation serves SK and M.E.AI.</summary>
internal interface IMessageAdapter<TMessage>
{
    HistoryMessageRole RoleOf(TMessage message);

    string? TagOf(TMessage message);

    /// <summary>The message's text parts joined (function content excluded).</summary>
    string TextOf(TMessage message);

    /// <summary>Adds the ids of function calls the message makes and of function results it carries, and the function names involved.</summary>
    void CollectFunctionContent(TMessage message, List<string> callIds, List<string> resultIds, List<string> functionNames);

    /// <summary>The message as a model would read it: role, text, function calls with arguments, function results.</summary>
    string Render(TMessage message);

    TMessage Create(HistoryMessageRole role, string text, string tag);

    /// <summary>A copy whose text parts are replaced by <paramref name="text"/>; function content and other parts are kept.</summary>
    TMessage WithText(TMessage message, string text, string tag);
}
