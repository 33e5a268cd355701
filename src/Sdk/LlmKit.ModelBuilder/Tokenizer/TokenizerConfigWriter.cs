using System.Text.Json;

namespace LlmKit.ModelBuilder;

/// <summary>Writes the Hugging Face side files <c>tokenizer_config.json</c> and <c>special_tokens_map.json</c> (names as in a Llama 2 folder).</summary>
internal static class TokenizerConfigWriter
{
    public static void WriteTokenizerConfig(string path, int modelMaxLength)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteBoolean("add_bos_token", true);
        json.WriteBoolean("add_eos_token", false);

        // The same special tokens tokenizer.json lists, so every reader matches "<s>" in text the same way.
        json.WriteStartObject("added_tokens_decoder");
        string[] special = ["<unk>", "<s>", "</s>"];
        for (int id = 0; id < special.Length; id++)
        {
            json.WriteStartObject(id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("content", special[id]);
            json.WriteBoolean("lstrip", false);
            json.WriteBoolean("normalized", false);
            json.WriteBoolean("rstrip", false);
            json.WriteBoolean("single_word", false);
            json.WriteBoolean("special", true);
            json.WriteEndObject();
        }

        json.WriteEndObject();
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
