package distress

import "regexp"

// The patterns below are written with their letters as in the dictionary
// and squeezed when compiled, as texts are ("kill" matches "kil", "killl"
// and "kiiill"). They match normalised text: lower case, no accents, no
// apostrophes ("dont", "im", "cant"), words separated by one space. A "$"
// is the end of the text.

// rules are tried in order; the first that matches names the result.
var rules = []rule{
	// English
	{"en.suicide", phrase(`suicide|suicidal|suicidally|suicidio`), true},
	{"en.kill-myself", phrase(`(kill|killing|killed|murder|hang|hanging|hanged|drown|drowning|shoot|shooting) my ?self|noose|(have|bought|got|found|tied|buy|get) (a|the) rope|kms|unalive (my ?self|me)`), true},
	{"en.want-to-die", phrase(`(want|wana|wanted|wish|need|ready|going|gona|deserve|should|rather|like) (to )?(just )?(die|be dead|not be alive|not wake up)|(wish|hope) i (was|were|was just|were just) dead|better off dead|i should (just )?die|rather be dead|feel like (dying|i want to die|i could die)`), true},
	{"en.not-live", phrase(`(dont|do not|dont really|no longer|not|never) (want|wana|wish|feel like) (to )?(live|be alive|keep living|go on|wake up|exist)( anymore| any more| again| like this)?|(dont|do not) want (this|my) life( anymore| any more|$)|(dont|do not) want to do this (life|anymore)|(dont|do not) want to be here( anymore| any more| no more| now| tonight| on this earth| in this world|$)`), false},
	{"en.not-exist", phrase(`(wish|want|like) (i|to) (didnt|did not|could|to|would)? ?(just )?(not exist|stop existing|disappear|vanish|fade away)( forever| for good| and never come back| and never| completely| from (this|the) world|$)|never (been|have been|had been) born|stop existing|want to not exist|wish i didnt exist`), false},
	{"en.cant-go-on", phrase(`(cant|cannot|can not|couldnt|dont think i can|not sure i can|no longer) (go on|keep going|keep living|live like this|do this anymore|take it anymore$|take this anymore$|take it any more$|keep doing this|handle life|cope anymore)`), false},
	{"en.no-reason", phrase(`no (reason|point|purpose) (to|in|of|for)? ?(me )?(go on|going on|keep going|live|living|being alive|be alive|continue|carry on|being here|me being here)|(what is|whats) (even )?the point (of|in) (living|life|going on|anything|being alive)|(what is|whats) (even )?the point anymore|(life|living) (isnt|is not|aint) worth (living|it)|not worth living|(my life|i) (is|am|feel) (worthless|pointless)|nothing to live for|nothing left (for me|to live for)|(life|my life) has no (meaning|point|purpose)|(dont|do not|cant|no longer) see the point (in|of) (anything|living|life|going on|it all|any of it|being here|trying|waking up)|why am i (even |still )?(alive|here|living|breathing)|hate (being alive|living|existing)|(being alive|living|existing|life) (hurts|is too painful|is unbearable|is torture)|(im|i am|i feel|feel) (so |completely |totally |just )?(worthless|a waste of space)`), false},
	{"en.better-off", phrase(`(be|been|feel|am) (happier|better|easier) (dead|gone)|(easier|better|fine|happier|relieved|lighter) (without me|if i (died|was dead|were dead|was gone|were gone|wasnt here|werent here|wasnt around|werent around|disappeared|didnt exist))|better off (dead|without me|if i (was|were|wasnt) (gone|dead|not here|around|here))|(happier|better) without me|(be|been) (happier|better) if i (was|were) (gone|dead)`), false},
	{"en.burden", phrase(`(im|i am|i feel|feel like|ill be|wont be|not be|just)( such| just| only| a huge)? a burden`), true},
	{"en.nobody-miss", phrase(`(nobody|no one|noone|no body) (would|will|wud|gona|is going to)( even)? (miss me|notice|care|know)|(nobody|no one|noone) (cares|would care) (if|whether) (i|im)|if i (live|lived) or (die|died)|if im (alive|dead)`), false},
	{"en.end-life", phrase(`end (it all|everything|my (own )?life|it tonight)|ending (it all|everything|my (own )?life)|(take|taking|took|taken) my (own )?life|(plan|planning|planned) to end it|(going to|gona|ready to|want to|wana|feel like|thinking of|thinking about|plan to|about to|decided to|need to) (end|ending) (it|things)( tonight| now| today| soon| for good| once and for all|$)|(want|wish|need) (everything|it all) to (be over|end|stop)|(ive|i have|i) (made|got|have) a plan$|(thoughts|thinking) of (ending|taking) my`), false},
	{"en.self-harm", phrase(`(hurt|hurting|harm|harming|cut|cutting|burn|burned|burnt|burning|scratch|scratched|scratching|punish|punishing|starve|starving) (my ?self|myself)|self ?harm(ing|ed)?|cutting again|(started|start|been|keep|kept|back to) cutting|scratch(ing|ed)? my (arms|wrists|legs)( until| till|$)|(cut|slit|cutting) my (wrists|arms)|(cuts|scars|cutting) on my (wrists|arms|legs|thighs)|(covered in|full of) (cuts|scars)|(took|take|taking|used|use) a (knife|blade|razor) to my (arm|arms|wrist|wrists|leg|legs|skin|thighs)`), true},
	{"en.not-safe", phrase(`not safe( right now| now| tonight| today| anymore| with myself| around myself| alone| at home| here)?$|(im|i am|i feel|feeling) not safe( right now| now| tonight| with myself| around myself| anymore)|(feel|feeling|am|im) unsafe( with myself| around myself| right now| tonight|$)|(scared|afraid|frightened|terrified) of myself|(dont|do not|dont really) feel safe( with myself| right now| tonight| around myself| anymore|$)|(scared|afraid|frightened) (of|about) what i (might|could|will|would) do|(might|could|going to|gona) do something (stupid|dumb|drastic) (tonight|today|to myself)?`), false},
	{"en.pills", phrase(`(took|taken|take|taking|swallowed|swallow) (a bunch of|all|all my|all the|too many|a lot of|so many|loads of|a handful of|a whole bottle of|the whole bottle of) (pills|tablets|meds|sleeping pills|painkillers)|(pills|tablets|meds) in front of me|(saving|stockpiling|hoarding|saved|collecting) (up )?(my |all my )?(pills|tablets|meds)|overdose|overdosing|od tonight|(swallow|swallowing|take|taking|took) (everything|all) in (the|my) (medicine cabinet|cabinet|bathroom cabinet)|(swallow|swallowing) (all of them|all my|the whole|everything)`), true},
	{"en.jump", phrase(`(wish|hope|want) (a|the) (car|bus|truck|train) (would |to |will )?(hit|hits|kill|kills|run over|runs over) me|(throw|throwing|hurl|hurling) myself (off|from|in front of|under)|(going to|gona|about to|want to|wana|ready to) jump$|standing on (the|a) (bridge|ledge|edge|roof)|jump(ing)? (off|from) (a|the|my) (bridge|building|roof|balcony|cliff|tower)|(jump|jumping|step|stepping|walk|walking|throw myself|lie down) in front of (a|the) (train|bus|car|truck|subway)`), true},
	{"en.goodbye", phrase(`goodbye (everyone|everybody|all|forever|world|for good|cruel world)|this is (my )?goodbye|this is my last (message|text)|(will be|is) my last (text|message)( ever)?$|goodbye (letter|letters|note|notes)|(wont|will not|not going to) be (around|here|alive) (much longer|for long|next week|tomorrow|anymore|by)`), false},
	{"en.hopeless", phrase(`hopeless|no way out|(give|giving|gave) up on (life|everything|myself|living|it all)|(ive|i have|i ve) given up$|i give up$|(done|finished) with (life|living|everything|being alive|it all|this life)|(tired|sick|exhausted|weary) (of|from) (living|life|being alive|existing|being here)|no future for me|dont see a future|(trapped|stuck) and want out|want out of (life|this life)|nothing matters( anymore)?$|(the pain|it all|everything) to (end|stop)( forever)?$|(it|the pain) to (end|stop) forever`), true},
	{"en.sleep-forever", phrase(`(sleep|sleeping|asleep) forever|(just|could|and|to|would) (not|never) wake up( again| tomorrow| ever|$)|(sleep|sleeping) (forever|and never wake( up)?|and not wake( up)?)|(hope|wish) i (dont|do not|never|wont) wake up|never wake up again`), false},
	{"en.death-thoughts", phrase(`(fantasize|fantasise|fantasizing|fantasising|dream|dreaming|daydream|daydreaming|obsess|obsessing) (about|of) (dying|death|being dead|killing myself|not existing|my death)|(only thing|only one|only reason) (stopping|keeping|holding) me|(cant|dont|do not) see myself (still )?(alive|here|living|around) (next|in|by|at)|(think|thinking|thought|thoughts) (about|of) (dying|death|killing myself|ending it|suicide|my death)( every day| a lot| all the time| constantly|$)|death (seems|is|feels) (like )?the (only|best) (way|option|answer|choice)|only way out|(im|i am) ready to go$|ready to die`), true},
	{"en.dying-inside", phrase(`dying inside|(im|i am) not (going to|gona) make it$|(not|no) ok(ay)?( at all)?( and| im| i am)? (not safe|scared)`), false},
	{"en.wish-death", phrase(`(want|wants|wanted|wana|wish|wishing|need|rather|hope|dont care if|would not mind if|wouldnt mind if|better off|easier if) (\w+ ){0,3}(die|dead|not (be )?alive|not exist|not existing|never exist|not be here|be gone forever|be gone$|never wake)|(think|thinking|thought) about not (being alive|existing|being here|waking up)|(what is|whats) the point (of|in) (me|my life|my existence|being me)|would (forget|not miss|not notice) me`), true},
	{"en.too-much", phrase(`(had|have had|ive had) enough of (life|living|everything|it all|this life|being alive)|(had|ive had) enough$|(i )?want out$|(it is|its|everything is|it all is|this is) (all )?too much( to bear| for me)?$|nothing (will|is going to|gona) (ever )?(get|be) (better|ok|okay|fine)|(cant|dont|cannot) see (any|a) way (forward|out)|end of my (rope|tether)|(cant|cannot) (live|go on) with (this|the) pain|(wont|will not) (need|be needing) (it|this|anything) (for )?(long|much longer)|writing (my will|a note|goodbye|my goodbye)|giving (my|all my) (things|stuff|belongings|possessions) away|giving away (my|all my) (things|stuff|belongings)|end (my|the) (suffering|pain)( for good| forever|$)|(losing|lost|no|have no|without) (the )?will to live|wrote (the|my) letters for`), false},
	{"en.method", phrase(`how many (pills|tablets|meds) (it takes|to die|would kill|does it take)|how to (kill myself|die|overdose|end it|end my life)|ways to (die|kill myself|end it|end my life)|(drive|crash|steer) (my car |the car )?(off|into) (the|a) (road|bridge|wall|tree|cliff|river)|(hit|hitting|punch|punching|bite|biting|hurt) myself|(sorry|apologise|apologize) for everything( and)? (goodbye|bye|love you|i love you)|not (going to|gona) be (around|here) (much longer|for long|anymore)`), true},

	// Spanish
	{"es.want-to-die", phrase(`(me )?(quiero|queria|quisiera|deseo|necesito|voy a) (morir|morirme|estar muerto|estar muerta)|(ojala|quisiera|preferiria|prefiero) (estar|estuviera|estuviese) (muerto|muerta)|ojala (me muera|me muriera|morirme|morir)|mejor me (muero|mato|muera)|(feliz|felices|tranquila|tranquilo) (muerta|muerto)|mejor (muerta|muerto)$|(ojala|quisiera) me (pasara|pase) algo|(me )?(deberia|mereceria|merezco) morir`), true},
	{"es.kill-myself", phrase(`matarme|me (quiero|voy a|voy a|puedo) matar|suicidarme|suicidar|me (quiero|voy a) suicidar|suicida|suicidas|suicidio|quitarme la vida|me quito la vida`), true},
	{"es.not-live", phrase(`no quiero (seguir )?(vivir|viviendo|existir|estar aqui|estar viva|estar vivo|despertar)|no quiero vivir asi|no quiero (esta|mi) vida( mas|$)|no me veo (viva|vivo|aqui)( el| la| en| dentro|$)|(estar vivo|estar viva|vivir|la vida) (duele|es insoportable|es una tortura)|quitarme de en medio|dejar de existir|(quiero|quisiera|voy a|necesito) dejar de vivir|(quisiera|ojala|preferiria) no (existir|estar aqui)|(me quiero ir|irme|quiero irme) (para siempre|de este mundo|de esta vida)|(no tengo|sin|ya no tengo) (fuerzas|ganas) (para|de) (seguir|vivir)|(ojala|quisiera|preferiria) no (haber|hubiera|hubiese) nacido`), false},
	{"es.no-aguanto", phrase(`no aguanto (esta vida|vivir|la vida|mas esta vida|mas asi|mas la vida|asi)|no aguanto( mas)?$`), false},
	{"es.no-puedo-mas", phrase(`no puedo mas$|no puedo mas (con esto|con mi vida|con la vida|con todo|con esta vida)|no puedo seguir (asi|viviendo|adelante|con esto|con mi vida|mas)`), false},
	{"es.no-reason", phrase(`no (tengo|hay|encuentro|veo|queda) (razon|razones|motivo|motivos|sentido)( para| de)? ?(vivir|seguir|continuar|estar aqui)|no le (veo|encuentro) sentido a (la vida|mi vida|nada|seguir|vivir)|(mi vida|la vida) (ya )?no tiene sentido|nada tiene sentido|(no vale|ya no vale) la pena (vivir|seguir)|la vida no vale la pena|vida sin sentido`), false},
	{"es.nobody-miss", phrase(`nadie me (extranaria|extranara|echaria de menos|echara de menos|echaria en falta|echara en falta|notaria)|a nadie le (importa|importaria) si (vivo|muero|me muero|desaparezco|estoy)|(estarian|estaria|estaran|estara|serian|seria|vivirian|todos|todo)( mas| mucho mas)? (mejor|tranquilos|tranquilas|felices|aliviados|bien) sin mi|nadie (notaria|se daria cuenta|lo notaria)|mejor si yo no (estuviera|existiera)|soy (una|un) (carga|estorbo)|(dejare|dejar) de ser (una carga|un problema|un estorbo)`), false},
	{"es.disappear", phrase(`(quiero|quisiera|pudiera|gustaria|deseo|ganas de) desaparecer( para siempre| del mundo| de este mundo| y no volver|$)`), true},
	{"es.sleep-forever", phrase(`(dormir|dormirme) y no (despertar|volver a despertar)|no despertar (manana|nunca|mas|jamas)|y no despertar$|ojala no despertar`), false},
	{"es.self-harm", phrase(`me (corte|corto|he cortado)( otra vez| de nuevo| las venas| los brazos| las munecas| a proposito|$)|cortarme( las venas| los brazos| otra vez| de nuevo|$)|(he vuelto|volvi|vuelvo) a (cortarme|cortar)|me hago dano|(me hice|me hago|hacerme|me he hecho) (cortes|heridas|quemaduras)|hacerme (dano|algo)|me hice dano (a proposito|otra vez|de nuevo)|lastimarme|me estoy lastimando|lastim(e|o|ado|ando) a proposito|autolesion\w*`), true},
	{"es.not-safe", phrase(`no (estoy|me siento) (a salvo|segura|seguro)( conmigo misma| conmigo mismo| ahora| esta noche| en casa| aqui|$)|miedo de (lo que pueda hacerme|hacerme)`), false},
	{"es.pills", phrase(`(tome|tomado|tomar|tomarme|trague|tragarme) (muchas|todas las|todas mis|un monton de|demasiadas|un punado de) (pastillas|pildoras)|tengo las (pastillas|pildoras) (aqui|listas|conmigo|delante)|sobredosis|(el|un|todo el) (bote|frasco) de (pastillas|pildoras)`), true},
	{"es.jump", phrase(`(estoy|aqui) en (el|la) (puente|azotea|cornisa)$|(cuerda|soga) para|ahorcarme|(compre|tengo|comprar) una (cuerda|soga)|(tirarme|lanzarme|aventarme) (de|del|por|desde|a|al) (un |una |el |la |las )?(puente|ventana|edificio|balcon|azotea|tren|metro|vias)`), true},
	{"es.end-life", phrase(`(acabar|terminar) con (el|mi|este) (dolor|sufrimiento)|(acabar|terminar) con (todo|mi vida|esto de una vez)|(esto|esta) es (una|mi) despedida|(quiero|necesito) que (todo|esto) (termine|acabe|se acabe)|(este es|es) mi ultimo mensaje|adios a todos|(ya )?no estare (aqui|mas)|(tengo|hice) un plan para (matarme|morir|acabar)`), false},
	{"es.hopeless", phrase(`me rindo$|(ya )?me rendi$|me rindo con (la vida|todo)|no (hay|veo|tengo) salida( para mi)?$|(siento|estoy|vivo) sin salida|estoy (desesperada|desesperado)$|sin esperanza|(harta|harto|cansada|cansado) de (vivir|la vida|estar viva|estar vivo|existir)|(la muerte|morir) es la (unica|mejor) salida|(pienso|pensando) en (la muerte|morir|matarme)|muriendo por dentro|todo es inutil`), true},
	{"es.not-ok", phrase(`(ayuda|ayudame|auxilio)( por favor)? no estoy bien|no estoy bien (tengo miedo|ayuda|ayudame)`), false},
	{"es.wish-death", phrase(`(quiero|quisiera|ojala|me da igual si|no me importa si|mejor|prefiero|ganas de|deseo) (\w+ ){0,3}(morir|morirme|me muera|me muriera|me muero|muerto|muerta|matarme|me mato|atropellara|atropelle|no despertar|no existir)|(mejor|quiero|quisiera) desaparecer$|(facil|mejor|tranquilo|tranquila|tranquilos) si (yo )?no (estuviera|existiera|estoy)|para que (vivo|sigo viviendo|sigo aqui|existo)|(sobro|estorbo) (en este mundo|aqui|en esta vida)|sobro$|(hacer|hacerme) una (tonteria|locura) (esta noche|hoy|conmigo)|(hacerme|cometer) una (tonteria|locura)$|(perdon|perdoname|perdonenme|lo siento) por todo (adios|los quiero|te quiero)|(ya )?no quiero seguir$|se acabe (mi vida|todo)|dormir(me)? para siempre|(carta|cartas|nota|notas) de despedida|(perdido|perdi) las (ganas|fuerzas) (de|para) (vivir|seguir)|mejor si (yo )?(muriera|me muriera|muero|me muero|desapareciera|no estuviera)|(regale|regalando|regalo) (mis|todas mis) cosas|no quiero seguir (asi|viviendo|aqui|con vida)|nada va a (mejorar|cambiar)|nunca va a mejorar|(cuantas|cuantas) pastillas|como (matarme|suicidarme|morir rapido)|me (lastime|golpee|queme|pegue|lastimo|golpeo) (otra vez|de nuevo|a proposito|los brazos|las piernas|las munecas)|(lastime|golpee|queme|corte) (otra vez|de nuevo) (los|mis) (brazos|piernas|munecas)`), true},
}

// idioms are set aside before the rules are tried.
var idioms = compileAll(
	// English
	`dying (to|for) \w+`, `(die|died|dying|dead|kill|killed|killing) (laughing|of laughter|from laughing)`,
	`laugh(ed|ing)? (myself )?to death`, `(kill|killing|killed) (myself|me) (laughing|with laughter)`,
	`killing myself (at|in|with|over) (the gym|work|training|this workout|this project)`,
	`(die|dying|died) of (boredom|embarrassment|shame|cuteness|hunger|thirst|heat|cold)`, `to die for`, `die ?hard`, `live and let die`, `(would|d|could) die for`, `(disappear|vanish)(ing|ed)? into`,
	`suicide squad`, `cut myself a( big| huge| small| little| thin)? (slice|piece|bit|break)`, `(calle|callejon) sin salida`, `hopeless (at|romantic|with|case)`, `dead (tired|serious|end|battery|on my feet)`,
	`(phone|battery|plant|plants|car|laptop|tv|wifi) (died|is dead|was dead)`, `(bored|scared|worried|tickled) to death`,
	`(work|worked|working) (myself|me) to death`, `killing (it|time)`,
	// Spanish
	`me muero (de|por) \w+`, `(me )?mori de (la )?risa`, `(morir|morirme|morir me) de (la )?risa`,
	`muriendo de \w+`, `(muerto|muerta) de (cansancio|hambre|risa|sueno|miedo|frio|calor|aburrimiento|verguenza)`,
	`no puedo mas de (la )?risa`, `matame camion`, `me (mata|matan|mataste|mato) (de|con) (la )?risa`,
	`(me )?(esta|estan) matando`,
)

// shortDanger are words that, in a short text, err towards help.
var shortDanger = []struct {
	lang string
	re   *regexp.Regexp
}{
	{"en", phrase(`help me|please help|need help|sos|die|dying|kill me|end me|im done|not ok|not okay|cant anymore|cant do this|want out`)},
	{"es", phrase(`me muero|morir|morirme|muerte|ayudame|auxilio|socorro|no estoy bien|no puedo|me quiero ir|matenme`)},
}

// laughter in a short text keeps it from being read as danger.
var laughter = regexp.MustCompile(`\b(lol|lmao|lmfao|rofl|xd|(ha){2,}h?|(ja){2,}j?|(je){2,}|(ji){2,}|haha|jaja)\b`)

func compileAll(ps ...string) []*regexp.Regexp {
	out := make([]*regexp.Regexp, len(ps))
	for i, p := range ps {
		out[i] = phrase(p)
	}
	return out
}
