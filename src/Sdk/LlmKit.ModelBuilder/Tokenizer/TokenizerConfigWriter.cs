using System.Text.Json;

namespace LlmKit.ModelBuilder;

/// <summary>Writes the Hugging Face side files <c>tokenizer_config.json</c> and <c>special_tokens_map.json</c>.</summary>
internal static class TokenizerConfigWriter
{
    public static void WriteTokenizerConfig(string path, int modelMaxLength)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteBoolean("add_bos_token", true);
        json.WriteBoolean("add_eos_token", false);
        json.WriteString("bos_token", "<s>");
        json.WriteBoolean("clean_up_tokenization_spaces", false);
        json.WriteString("eos_token", "</s>");
        json.WriteBoolean("legacy", true);
        json.WriteNumber("model_max_length", modelMaxLength);
        json.WriteNull("pad_token");
        json.WriteString("padding_side", "left");
        json.WriteStartObject("sp_model_kwargs");
        json.WriteEndObject();
        json.WriteString("tokenizer_class", "LlamaTokenizer");
        json.WriteString("unk_token", "<unk>");
        json.WriteEndObject();
    }

    public static void WriteSpecialTokensMap(string path)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("bos_token", "<s>");
        json.WriteString("eos_token", "</s>");
        json.WriteString("unk_token", "<unk>");
        json.WriteEndObject();
    }
}
