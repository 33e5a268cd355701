using System.Text.Json;
using LlmKit.Samples.AspNetApi.OpenAI;

namespace LlmKit.Samples.AspNetApi.Plugins;

/// <summary>Reads OpenAI's <c>input</c> field: one string or an array of strings.</summary>
public static class PluginInput
{
    /// <summary>Most texts in one request.</summary>
    public const int MaxTexts = 32;

    /// <summary>The texts of <paramref name="input"/>.</summary>
    /// <param name="input">The JSON value.</param>
    /// <param name="maxCharacters">Longest text accepted.</param>
    /// <exception cref="ApiException">Missing, of the wrong shape, too many texts, or a text too long (400).</exception>
    public static IReadOnlyList<string> Read(JsonElement input, int maxCharacters)
    {
        List<string> texts;
        switch (input.ValueKind)
        {
            case JsonValueKind.String:
                texts = [input.GetString()!];
                break;
            case JsonValueKind.Array:
                texts = new List<string>(input.GetArrayLength());
                foreach (var item in input.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String)
                    {
                        throw ApiException.BadRequest($"input[{texts.Count}]", $"input[{texts.Count}] must be a string: this server accepts text only.");
                    }

                    texts.Add(item.GetString()!);
                }

                break;
            case JsonValueKind.Undefined or JsonValueKind.Null:
                throw ApiException.BadRequest("input", "input is required: a string or an array of strings.", "missing_required_parameter");
            default:
                throw ApiException.BadRequest("input", "input must be a string or an array of strings.");
        }

        if (texts.Count is 0 or > MaxTexts)
        {
            throw ApiException.BadRequest("input", $"input must hold between 1 and {MaxTexts} texts; got {texts.Count}.");
        }

        for (int i = 0; i < texts.Count; i++)
        {
            if (texts[i].Length > maxCharacters)
            {
                throw ApiException.BadRequest($"input[{i}]", $"input[{i}] has {texts[i].Length:N0} characters; this server accepts at most {maxCharacters:N0} (Server:MaxPluginInputCharacters).", "request_too_large");
            }
        }

        return texts;
    }
}
